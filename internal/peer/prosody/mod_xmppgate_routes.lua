-- Static s2s routes for a private Prosody 0.12 in xmppgate's federation
-- tests. Prosody finds remote servers through DNS only (SRV, then A/AAAA
-- on port 5269); this module makes the domains listed in the global option
-- xmppgate_routes = { ["domain"] = { "127.0.0.1", port } } resolve to the
-- given address instead, without touching /etc/hosts or DNS. It replaces
-- net.resolvers.service's constructor, which mod_s2s calls per connection.
local service = require "net.resolvers.service";
local basic = require "net.resolvers.basic";
local manual = require "net.resolvers.manual";

local routes = module:get_option("xmppgate_routes", {});
local orig_new = service.xmppgate_orig_new or service.new;
service.xmppgate_orig_new = orig_new;

service.new = function (hostname, svc, conn_type, extra)
	local r = routes[hostname];
	if not r then
		return orig_new(hostname, svc, conn_type, extra);
	end
	if svc ~= "xmpp-server" then
		return manual.new({}, conn_type, extra); -- no direct TLS target
	end
	return basic.new(r[1], r[2], conn_type, extra);
end
