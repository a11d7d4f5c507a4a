// Package rabbitmqtest starts a real RabbitMQ broker with its Web-STOMP
// plugin for tests: its own epmd, node name, ports and directories (never
// the system service), stopped when the test ends. Web-STOMP speaks STOMP
// over plain WebSocket only (no SockJS since RabbitMQ 3.x dropped it) and
// chooses a STOMP subprotocol (v10.stomp, v11.stomp, v12.stomp) from the
// client's offer: the broker the SockJS tests put behind the gateway.
//
// It builds for Unix only (the broker runs as its own process group);
// elsewhere the package is empty.
package rabbitmqtest
