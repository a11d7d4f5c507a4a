package revproxytest

// nginxConf wraps the location block of docs/operations.md in what a
// foreground nginx needs to run from a temporary folder.
const nginxConf = `daemon off;
master_process off;
pid {{DIR}}/nginx.pid;
error_log {{DIR}}/error.log warn;
events { worker_connections 256; }
http {
  access_log {{DIR}}/access.log;
  client_body_temp_path {{DIR}}/body;
  proxy_temp_path {{DIR}}/proxy;
  fastcgi_temp_path {{DIR}}/fastcgi;
  uwsgi_temp_path {{DIR}}/uwsgi;
  scgi_temp_path {{DIR}}/scgi;

  map $http_upgrade $connection_upgrade {
    default upgrade;
    ''      close;
  }
  server {
    listen {{LISTEN}};
{{PAGES}}
    location / {
      proxy_pass http://{{GATEWAY}};
      {{BIND}}
      proxy_http_version 1.1;
      proxy_set_header Upgrade $http_upgrade;
      proxy_set_header Connection $connection_upgrade;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Host $http_host;
      proxy_set_header X-Forwarded-Proto $scheme;
      proxy_buffering off;
      proxy_request_buffering off;
      proxy_read_timeout 1h;
      proxy_send_timeout 1h;
    }
  }
}
`

// haproxyConf is the HAProxy configuration of docs/operations.md without
// TLS on the bind line, logging each request (with its termination state)
// to standard output, which start keeps in output.log.
const haproxyConf = `global
  maxconn 256
  log stdout format raw local0
defaults
  mode http
  log global
  option httplog
  timeout connect 5s
  timeout client {{TIMEOUT}}
  timeout server {{TIMEOUT}}
  timeout tunnel {{TIMEOUT}}
frontend web
  bind {{LISTEN}}
{{PAGES}}  option forwardfor
  http-request set-header X-Forwarded-Proto https if { ssl_fc }
  http-request set-header X-Forwarded-Proto http if !{ ssl_fc }
  http-request set-header X-Forwarded-Host %[req.hdr(host)]
  default_backend bridgeway
backend bridgeway
  server gw {{GATEWAY}} {{BIND}}
`
