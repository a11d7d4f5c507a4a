/* bridgeway browser client (ES5, no dependencies): docs/client.md */
(function (g) {
"use strict";
var jn = 0;
function noop() {}
function parse(s) { try { return JSON.parse(s); } catch (e) { return null; } }
function qs(u, p) {
	var s = [], k;
	for (k in p) if (p[k] != null) s.push(k + "=" + encodeURIComponent(p[k]));
	return s.length ? u + (u.indexOf("?") < 0 ? "?" : "&") + s.join("&") : u;
}
function b64(d) {
	var b = d.buffer ? new Uint8Array(d.buffer, d.byteOffset, d.byteLength) : new Uint8Array(d), s = "", i;
	for (i = 0; i < b.length; i++) s += String.fromCharCode(b[i]);
	return g.btoa(s);
}
function backoff(n) { return Math.min(30000, 250 * Math.pow(2, n)) * (0.5 + Math.random() / 2); }
function herr(st, body) { return (parse(body) || {}).error || "http_" + st; }

function xhr(c, method, url, body, type, cb) {
	var x = new XMLHttpRequest(), done = 0;
	x.open(method, url, true);
	if (type) x.setRequestHeader("Content-Type", type);
	x.withCredentials = c._wc;
	x.timeout = c._pt;
	x.onreadystatechange = function () {
		if (x.readyState === 4 && !done) { done = 1; cb(x.status, x.responseText); }
	};
	x.send(body);
	return { abort: function () { done = 1; x.abort(); } };
}
function getJSON(c, url, cb) {
	return xhr(c, "GET", url, null, null, function (st, body) {
		var r = st === 200 && parse(body);
		if (r) cb(null, r); else cb(herr(st, body));
	});
}
// JSONP; a late or failed script calls a no-op.
function jsonp(c, url, cb) {
	var name = "__bw" + (++jn), s = document.createElement("script"), done = 0, t;
	function fin(err, r) {
		if (done) return;
		done = 1; clearTimeout(t); g[name] = noop;
		if (s.parentNode) s.parentNode.removeChild(s);
		if (cb) cb(err, r);
	}
	function gone() { try { delete g[name]; } catch (e) {} }
	g[name] = function (r) { fin(r && r.error, r); gone(); };
	s.onerror = function () { fin("script_error"); gone(); }; // it will not run
	t = setTimeout(function () { fin("timeout"); }, c._pt);
	s.src = qs(url, { callback: name });
	document.documentElement.appendChild(s);
	return { abort: function () { cb = null; fin(); } };
}

// T[name](c, a) runs attempt a; a.stop ends it, a.send sends.
var T = {
	websocket: function (c, a) {
		if (!g.WebSocket) return c._drop(a, "unsupported");
		var raw = c.o.wsFormat === "raw", u = document.createElement("a"), ws;
		// A session's sends carry seqs, acknowledged ({"ack":N}).
		a.acks = !raw && !!c.session;
		// A WebSocket-opened session dies with it: open one by poll (unless
		// open). A failed poll fails the attempt; no polling: go without.
		if (!raw && !c._boot && !c.session) {
			a.stop = getJSON(c, c._u("/poll", { wait: 0 }), function (e, r) {
				if (a !== c._a) return;
				if (e && e !== "transport_not_enabled") return c._drop(a, "bootstrap " + e);
				if (r && r.session) c.session = r.session;
				c._boot = 1;
				T.websocket(c, a);
			}).abort;
			return;
		}
		u.href = c._u("/ws", raw ? {} : { format: "json", acks: a.acks ? 1 : null, session: c.session, cursor: c.cursor });
		ws = new g.WebSocket(u.href.replace(/^http/, "ws"));
		ws.binaryType = "arraybuffer";
		a.stop = function () { ws.close(); };
		a.send = function (m) {
			var i;
			if (ws.readyState !== 1) return false;
			if (!a.acks) for (i = 0; i < m.d.length; i++) ws.send(m.d[i]);
			else ws.send(JSON.stringify(m.t ? { seq: m.s = m.s || ++c._seq, messages: m.d } : { seq: m.s = m.s || ++c._seq, data: b64(m.d[0]), binary: true }));
			return true;
		};
		ws.onopen = function () { c._up(a); };
		ws.onmessage = function (e) {
			var d = e.data;
			if (typeof d !== "string") c._msg(a, { data: b64(d), binary: true });
			else if (raw) c._msg(a, { data: d });
			else if ((d = parse(d))) { if (d.ack != null) c._ack(a, d.ack); else c._obj(a, d); }
		};
		// 1001, 1005, 1006, 1011-1014: resume; others are the app's.
		ws.onclose = function (e) {
			if (a.up && !/^10(0[156]|1[1-4])$/.test(e.code)) return c._end(a, e.code, e.reason);
			// Its heartbeats are pings, unseen: open for timeout ms proves it.
			if (a.up && a === c._a && new Date() - a.up >= c._to) c._n = 0;
			c._drop(a, "closed " + e.code);
		};
	},
	sse: function (c, a) {
		if (!g.EventSource) return c._drop(a, "unsupported");
		var es = new g.EventSource(c._u("/sse", { session: c.session, lastEventId: c.cursor }), { withCredentials: c._wc }),
			names = ["message", "binary", "session", "gap", "close", "heartbeat"].concat(c.o.events || []), i;
		a.stop = function () { es.close(); };
		watch(c, a);
		// The first event, not onopen, proves bytes pass buffering proxies.
		function on(name) {
			es.addEventListener(name, function (e) {
				var d = e.data, id = e.lastEventId, b = name === "binary";
				a.seen = +new Date();
				if (name === "heartbeat") return c._obj(a, { cursor: id, beat: 1 });
				c._obj(a, name === "session" ? parse(d) || {} : name === "gap" ? { id: id, gap: parse(d) } :
					name === "close" ? { closed: parse(d) || {} } : { id: id, data: d, event: b ? "" : name, binary: b });
			});
		}
		for (i = 0; i < names.length; i++) on(names[i]);
		es.onerror = function () { c._drop(a, "error"); };
	},
	stream: function (c, a) {
		var x = new XMLHttpRequest(), off = 0;
		x.open("GET", c._u("/stream", { session: c.session, cursor: c.cursor, padding: c.o.padding }), true);
		x.withCredentials = c._wc;
		a.stop = function () { x.abort(); };
		watch(c, a);
		function feed() {
			var t = x.responseText || "", i, o;
			if (x.status !== 200) return; // an error body is not the stream
			a.seen = +new Date();
			// Lines of the protocol, not padding, bring it up; "" is a heartbeat.
			while (a === c._a && (i = t.indexOf("\n", off)) >= 0) {
				o = t.slice(off, i); off = i + 1;
				if ((o = o ? parse(o) : { beat: 1 })) c._obj(a, o);
			}
			// responseText only grows: recycle.
			if (off > 1048576) c._drop(a, "recycle");
		}
		x.onprogress = feed;
		x.onreadystatechange = function () {
			if (x.readyState !== 4) return;
			if (x.status !== 200) return c._fail(a, herr(x.status, x.responseText));
			feed(); c._drop(a, "ended");
		};
		x.send(null);
	},
	longpoll: function (c, a) { poll(c, a, getJSON, {}); },
	poll: function (c, a) { poll(c, a, getJSON, { wait: 0 }); },
	jsonp: function (c, a) { poll(c, a, jsonp, {}); }
};
// A push transport silent past options.stall (heartbeats included) is
// stalled, at any time: a buffering proxy may hold the rest of a stream.
function watch(c, a) {
	var ms = c.o.stall || 35000;
	a.seen = +new Date();
	(function check() {
		var idle = new Date() - a.seen;
		if (a !== c._a) return;
		if (idle < ms) a.dog = setTimeout(check, ms - idle);
		else c._stall(a);
	})();
}
function poll(c, a, get, p) {
	var t, req, wait = p.wait;
	a.stop = function () { clearTimeout(t); if (req) req.abort(); };
	// A resume first asks without waiting: a proxy that cuts held polls
	// before poll_timeout (504) would otherwise keep a quiet session's
	// attempt, and the sends held for it, from ever coming up.
	if (c.session || c.cursor) p.wait = 0;
	(function once() {
		p.session = c.session; p.cursor = c.cursor; p.max_bytes = c._mb;
		req = get(c, c._u("/poll", p), function (err, r) {
			var i, m = r && r.messages || [];
			if (a !== c._a) return;
			c._size(!err || err == "http_504");
			if (err) return c._fail(a, err);
			if (r.closed) return c._end(a, r.closed.code, r.closed.reason);
			c._obj(a, { session: r.session, gap: r.gap, beat: 1 });
			for (i = 0; i < m.length; i++) c._msg(a, m[i]);
			if (a !== c._a) return;
			if (r.cursor) c.cursor = r.cursor;
			p.wait = wait;
			t = setTimeout(once, wait === 0 ? c.o.interval || 1000 : 0);
		});
	})();
}

function Conn(url, o) {
	var c = this, q = url.indexOf("?");
	c.o = o = o || {};
	c._p = (q < 0 ? url : url.slice(0, q)).replace(/\/+$/, "");
	c._q = q < 0 ? "" : url.slice(q);
	c.transports = o.transports || ["websocket", "sse", "longpoll"];
	c.transport = c.session = c.cursor = null;
	c.onopen = c.onmessage = c.onclose = c.onerror = c.ongap = noop;
	c._wc = !!o.withCredentials; c._pt = o.pollTimeout || 60000; c._mb = o.pollBytes; c._to = o.timeout || 5000;
	c._out = []; c._seq = c._i = c._n = c._w = c._nq = 0; c._st = {}; c._ban = {};
	c._t = setTimeout(function () { c._start(); }, 0);
}
Conn.prototype = {
	// After onclose no handler runs. A throwing one must not stall us: rethrow later.
	_e: function (name, x) {
		if (this._closed && name != "onclose") return;
		try { this[name](x); } catch (e) { setTimeout(function () { throw e; }, 0); }
	},
	_u: function (path, p) { return qs(this._p + path + this._q, p); },
	_start: function () {
		var c = this, n = c.transports.length, k = 0, name, a;
		while (c._ban[c.transports[c._i]] && ++k < n) c._i = (c._i + 1) % n;
		name = c.transports[c._i]; a = { name: name };
		c._a = a;
		a.timer = setTimeout(function () { c._drop(a, "timeout"); }, c._to);
		if (T[name]) T[name](c, a); else c._drop(a, "unknown");
	},
	_up: function (a) {
		var c = this;
		if (a !== c._a || a.up) return;
		a.up = +new Date(); clearTimeout(a.timer);
		c.transport = a.name;
		c._e("onopen", { transport: a.name, session: c.session, resumed: !!c._was });
		c._was = true;
		c._flush();
	},
	// o: a message, or a session, start (cursor), gap, closed or beat
	// notice. A beat (heartbeat, poll answer) after the first event proves
	// the path: the backoff restarts (rule 4).
	_obj: function (a, o) {
		var c = this;
		if (a !== c._a) return;
		if (o.closed) return c._end(a, o.closed.code, o.closed.reason);
		if (o.data === undefined) {
			if (o.session) c.session = o.session;
			if (o.cursor && !c.cursor) c.cursor = o.cursor;
		}
		if (o.beat && a.up) c._n = 0;
		c._up(a);
		if (a !== c._a) return;
		if (o.gap) { c._e("ongap", o.gap); if (o.id) c.cursor = o.id; }
		else if (o.data !== undefined) c._msg(a, o);
	},
	_msg: function (a, m) {
		var c = this;
		if (a !== c._a) return;
		if (m.id) { if (m.id === c.cursor) return; c.cursor = m.id; }
		c._n = 0;
		c._e("onmessage", { data: m.data, event: m.event || "message", id: m.id || null, binary: !!m.binary });
	},
	_end: function (a, code, reason) {
		if (a !== this._a) return;
		this._stop();
		this._e("onclose", { code: code || 1000, reason: reason || "", wasClean: true });
	},
	// A stalled transport resumes from the cursor; stalled twice, it is
	// left for the rest of the connection.
	_stall: function (a) {
		var c = this, n = c._st[a.name] = (c._st[a.name] || 0) + 1;
		if (n > 1 && c.transports.length > 1) { c._ban[a.name] = 1; a.up = false; }
		c._drop(a, "stalled");
	},
	// A failed poll answer (not a 504: a timeout) may be too large for a proxy: ask for half
	// (down to one message), and double again after 4 good answers.
	_size: function (ok) {
		var c = this, max = c.o.pollBytes;
		if (!ok) { c._mb = Math.max(1, (c._mb || max || 65536) >> 1); c._ok = 0; }
		else if (c._mb && ++c._ok > 3) {
			c._mb *= 2; c._ok = 0;
			if (c._mb >= (max || 65536)) c._mb = max;
		}
	},
	// A lost session is final; any other HTTP failure a drop.
	_fail: function (a, err) {
		if (err === "session_not_found") this._end(a, 4404, err);
		else this._drop(a, err);
	},
	// A working transport that drops is retried; one that never came up
	// falls through (after the last: backoff).
	_drop: function (a, why) {
		var c = this, d = 0;
		if (a !== c._a) return;
		c._kill();
		// Next unbanned; passing the end ends the round.
		if (!a.up) do c._i = (c._i + 1) % c.transports.length; while (c._i && c._ban[c.transports[c._i]]);
		if (a.up || !c._i) d = c._n++ ? backoff(c._n) : 0;
		c._t = setTimeout(function () { c._start(); }, d); // before onerror, which may close()
		if (!a.up && !c._i) c._e("onerror", { type: "error", message: a.name + ": " + why });
	},
	_kill: function () {
		var a = this._a;
		clearTimeout(this._t);
		this._a = this.transport = null; this._w = 0;
		if (a) { clearTimeout(a.timer); clearTimeout(a.dog); if (a.stop) a.stop(); }
	},
	_stop: function () { this._kill(); this._closed = true; this._out = []; this._nq = 0; },
	// _out holds sends until acknowledged: {s: seq once sent, d: messages
	// (strings batched, up to 100 or 64 KiB), t: text, p: a Blob being read}.
	send: function (data) {
		var c = this, q = c._out, m = q[q.length - 1], t = typeof data === "string", r;
		if (c._closed || c._nq >= 1000) return false;
		c._nq++;
		if (m && t && m.t && !m.s && m.d.length < 100 && m.n + data.length < 65536) { m.d.push(data); m.n += data.length; }
		else q.push(m = { s: 0, d: [data], t: t, n: t ? data.length : 0 });
		if (g.Blob && data instanceof g.Blob) { // base64 needs its bytes
			m.p = r = new g.FileReader();
			r.onloadend = function () { m.d[0] = r.result || new ArrayBuffer(0); m.p = 0; c._flush(); };
			r.readAsArrayBuffer(data);
		}
		c._flush();
		return true;
	},
	// What a cut left unacknowledged goes again, with its seq, on any
	// transport: the gateway delivers each seq once.
	_ack: function (a, n) {
		var q = this._out;
		while (a === this._a && this._w && q[0].s <= n) { this._nq -= q.shift().d.length; this._w--; this._n = 0; }
	},
	// WebSocket: every send at once; else one POST at a time, in order.
	_flush: function () {
		var c = this, a = c._a, q = c._out, m = q[0];
		if (!a || !a.up || c._busy) return;
		if (a.send) {
			while ((m = q[c._w]) && !m.p && a.send(m)) if (a.acks) c._w++; else c._nq -= q.shift().d.length;
			return;
		}
		if (!m || m.p) return;
		c._busy = 1;
		xhr(c, "POST", c._u("/send", { session: c.session, seq: m.s = m.s || ++c._seq }), m.d.length > 1 ? JSON.stringify({ messages: m.d }) : m.d[0], m.d.length > 1 ? "application/json" : m.t ? "text/plain" : "application/octet-stream", function (st, body) {
			c._busy = 0;
			if (st >= 200 && st < 500 && st !== 408 && st !== 429) {
				if (q[0] === m) c._nq -= q.shift().d.length;
				c._sn = 0;
				if (st >= 300) c._e("onerror", { type: "send", status: st, message: herr(st, body) });
				return c._flush();
			}
			setTimeout(function () { c._flush(); }, backoff(c._sn = (c._sn || 0) + 1));
		});
	},
	close: function () {
		if (this._closed) return;
		this._stop();
		this._e("onclose", { code: 1000, reason: "client", wasClean: true });
	}
};
g.bridgeway = { connect: function (url, options) { return new Conn(url, options); } };
})(this);
