package ejabberd

import (
	"strings"

	"github.com/xmppgate/xmppgate/commands"
)

// The ejabberd API reference (seed 002): every command of it, with its
// tags (which api permission patterns such as "[tag:accounts]" and OAuth
// scopes name) and, for a command the registry does not implement, why.
// TestReferenceComplete holds it against the registry: a command is
// implemented or refused with its reason, never both, never neither.

// command is one row of the reference.
type command struct {
	Name    string
	Tags    []string
	Refused string // why xmppgate does not offer it; "" if the registry implements it
}

// Why commands are refused.
const (
	refusedErlang   = "there is no Erlang node, cluster or module system in xmppgate"
	refusedMnesia   = "there is no Mnesia database in xmppgate (its data is in SQLite)"
	refusedSCRAM    = "passwords are always stored as SCRAM keys"
	refusedSQL      = "there is no ejabberd SQL schema in xmppgate"
	refusedYAML     = "xmppgate's configuration is YAML already; there is no Erlang configuration to convert"
	refusedFail2ban = "xmppgate does not ban IP addresses (no mod_fail2ban)"
)

// reference is every command of the ejabberd API reference, by name.
var reference = []command{
	{"abort_delete_old_mam_messages", []string{"purge"}, ""},
	{"abort_delete_old_messages", []string{"purge"}, ""},
	{"add_rosteritem", []string{"roster"}, ""},
	{"backup", []string{"mnesia"}, ""},
	{"ban_account", []string{"accounts"}, ""},
	{"bookmarks_to_pep", []string{"private"}, ""},
	{"change_password", []string{"accounts"}, ""},
	{"change_room_option", []string{"muc_room"}, ""},
	{"check_account", []string{"accounts"}, ""},
	{"check_password", []string{"accounts"}, ""},
	{"check_password_hash", []string{"accounts"}, ""},
	{"clear_cache", []string{"server"}, refusedErlang},
	{"compile", []string{"erlang"}, refusedErlang},
	{"connected_users", []string{"session"}, ""},
	{"connected_users_info", []string{"session"}, ""},
	{"connected_users_number", []string{"session", "statistics"}, ""},
	{"connected_users_vhost", []string{"session"}, ""},
	{"convert_to_scram", []string{"sql"}, refusedSCRAM},
	{"convert_to_yaml", []string{"config"}, refusedYAML},
	{"create_room", []string{"muc_room"}, ""},
	{"create_room_with_opts", []string{"muc_room"}, ""},
	{"create_rooms_file", []string{"muc"}, ""},
	{"delete_expired_messages", []string{"purge"}, ""},
	{"delete_expired_pubsub_items", []string{"purge"}, ""},
	{"delete_mnesia", []string{"mnesia"}, refusedMnesia},
	{"delete_old_mam_messages", []string{"purge"}, ""},
	{"delete_old_mam_messages_batch", []string{"purge"}, ""},
	{"delete_old_mam_messages_status", []string{"purge"}, ""},
	{"delete_old_messages", []string{"purge"}, ""},
	{"delete_old_messages_batch", []string{"purge"}, ""},
	{"delete_old_messages_status", []string{"purge"}, ""},
	{"delete_old_pubsub_items", []string{"purge"}, ""},
	{"delete_old_push_sessions", []string{"purge"}, ""},
	{"delete_old_users", []string{}, ""},
	{"delete_old_users_vhost", []string{}, ""},
	{"delete_rosteritem", []string{"roster"}, ""},
	{"destroy_room", []string{"muc_room"}, ""},
	{"destroy_rooms_file", []string{"muc"}, ""},
	{"dump", []string{"mnesia"}, ""},
	{"dump_config", []string{"config"}, ""},
	{"dump_table", []string{"mnesia"}, refusedMnesia},
	{"export2sql", []string{"mnesia"}, refusedMnesia},
	{"export_piefxis", []string{"mnesia"}, ""},
	{"export_piefxis_host", []string{"mnesia"}, ""},
	{"gc", []string{"server"}, refusedErlang},
	{"gen_html_doc_for_commands", []string{"documentation"}, ""},
	{"gen_markdown_doc_for_commands", []string{"documentation"}, ""},
	{"gen_markdown_doc_for_tags", []string{"documentation"}, ""},
	{"get_cookie", []string{"erlang"}, refusedErlang},
	{"get_last", []string{"last"}, ""},
	{"get_loglevel", []string{"logs"}, ""},
	{"get_offline_count", []string{"offline"}, ""},
	{"get_presence", []string{"session"}, ""},
	{"get_room_affiliation", []string{"muc_room"}, ""},
	{"get_room_affiliations", []string{"muc_room"}, ""},
	{"get_room_history", []string{"muc_room"}, ""},
	{"get_room_occupants", []string{"muc_room"}, ""},
	{"get_room_occupants_number", []string{"muc_room"}, ""},
	{"get_room_options", []string{"muc_room"}, ""},
	{"get_roster", []string{"roster"}, ""},
	{"get_subscribers", []string{"muc_room"}, ""},
	{"get_user_rooms", []string{"muc"}, ""},
	{"get_user_subscriptions", []string{"muc"}, ""},
	{"get_vcard", []string{"vcard"}, ""},
	{"get_vcard2", []string{"vcard"}, ""},
	{"get_vcard2_multi", []string{"vcard"}, ""},
	{"import_dir", []string{"mnesia"}, refusedMnesia},
	{"import_file", []string{"mnesia"}, refusedMnesia},
	{"import_piefxis", []string{"mnesia"}, ""},
	{"import_prosody", []string{}, ""},
	// xmppgate's own, not ejabberd's: the Openfire importer beside
	// import_prosody (commands/transfer_openfire.go).
	{"import_openfire", []string{}, ""},
	{"incoming_s2s_number", []string{"statistics", "s2s"}, ""},
	{"install_fallback", []string{"mnesia"}, refusedMnesia},
	{"join_cluster", []string{"cluster"}, ""},
	{"kick_session", []string{"session"}, ""},
	{"kick_user", []string{"session"}, ""},
	{"leave_cluster", []string{"cluster"}, ""},
	{"list_certificates", []string{"acme"}, ""},
	{"list_cluster", []string{"cluster"}, ""},
	{"load", []string{"mnesia"}, ""},
	{"man", []string{"documentation"}, ""},
	{"mnesia_change_nodename", []string{"mnesia"}, refusedMnesia},
	{"mnesia_info", []string{"mnesia"}, refusedMnesia},
	{"mnesia_table_info", []string{"mnesia"}, refusedMnesia},
	{"module_check", []string{"modules"}, refusedErlang},
	{"module_install", []string{"modules"}, refusedErlang},
	{"module_uninstall", []string{"modules"}, refusedErlang},
	{"module_upgrade", []string{"modules"}, refusedErlang},
	{"modules_available", []string{"modules"}, refusedErlang},
	{"modules_installed", []string{"modules"}, refusedErlang},
	{"modules_update_specs", []string{"modules"}, refusedErlang},
	{"muc_online_rooms", []string{"muc"}, ""},
	{"muc_online_rooms_by_regex", []string{"muc"}, ""},
	{"muc_register_nick", []string{"muc"}, ""},
	{"muc_unregister_nick", []string{"muc"}, ""},
	{"num_resources", []string{"session"}, ""},
	{"oauth_add_client_implicit", []string{"oauth"}, ""},
	{"oauth_add_client_password", []string{"oauth"}, ""},
	{"oauth_issue_token", []string{"oauth"}, ""},
	{"oauth_list_tokens", []string{"oauth"}, ""},
	{"oauth_remove_client", []string{"oauth"}, ""},
	{"oauth_revoke_token", []string{"oauth"}, ""},
	{"outgoing_s2s_number", []string{"statistics", "s2s"}, ""},
	{"privacy_set", []string{"stanza"}, ""},
	{"private_get", []string{"private"}, ""},
	{"private_set", []string{"private"}, ""},
	{"process_rosteritems", []string{"roster"}, ""},
	{"push_alltoall", []string{"roster"}, ""},
	{"push_roster", []string{"roster"}, ""},
	{"push_roster_all", []string{"roster"}, ""},
	{"register", []string{"accounts"}, ""},
	{"registered_users", []string{"accounts"}, ""},
	{"registered_vhosts", []string{"server"}, ""},
	{"reload_config", []string{"config"}, ""},
	{"remove_mam_for_user", []string{"mam"}, ""},
	{"remove_mam_for_user_with_peer", []string{"mam"}, ""},
	{"reopen_log", []string{"logs"}, ""},
	{"request_certificate", []string{"acme"}, ""},
	{"resource_num", []string{"session"}, ""},
	{"restart", []string{"server"}, ""},
	{"restart_module", []string{"erlang"}, refusedErlang},
	{"restore", []string{"mnesia"}, ""},
	{"revoke_certificate", []string{"acme"}, ""},
	{"rooms_empty_destroy", []string{"muc"}, ""},
	{"rooms_empty_list", []string{"muc"}, ""},
	{"rooms_unused_destroy", []string{"muc"}, ""},
	{"rooms_unused_list", []string{"muc"}, ""},
	{"rotate_log", []string{"logs"}, ""},
	{"send_direct_invitation", []string{"muc_room"}, ""},
	{"send_message", []string{"stanza"}, ""},
	{"send_stanza", []string{"stanza"}, ""},
	{"send_stanza_c2s", []string{"stanza"}, ""},
	{"set_last", []string{"last"}, ""},
	{"set_loglevel", []string{"logs"}, ""},
	{"set_master", []string{"cluster"}, refusedErlang},
	{"set_nickname", []string{"vcard"}, ""},
	{"set_presence", []string{"session"}, ""},
	{"set_room_affiliation", []string{"muc_room"}, ""},
	{"set_vcard", []string{"vcard"}, ""},
	{"set_vcard2", []string{"vcard"}, ""},
	{"set_vcard2_multi", []string{"vcard"}, ""},
	{"srg_create", []string{"shared_roster_group"}, ""},
	{"srg_delete", []string{"shared_roster_group"}, ""},
	{"srg_get_info", []string{"shared_roster_group"}, ""},
	{"srg_get_members", []string{"shared_roster_group"}, ""},
	{"srg_list", []string{"shared_roster_group"}, ""},
	{"srg_user_add", []string{"shared_roster_group"}, ""},
	{"srg_user_del", []string{"shared_roster_group"}, ""},
	{"stats", []string{"statistics"}, ""},
	{"stats_host", []string{"statistics"}, ""},
	{"status", []string{"server"}, ""},
	{"status_list", []string{"session"}, ""},
	{"status_list_host", []string{"session"}, ""},
	{"status_num", []string{"session", "statistics"}, ""},
	{"status_num_host", []string{"session", "statistics"}, ""},
	{"stop", []string{"server"}, ""},
	{"stop_kindly", []string{"server"}, ""},
	{"stop_s2s_connections", []string{"s2s"}, ""},
	{"subscribe_room", []string{"muc_room"}, ""},
	{"subscribe_room_many", []string{"muc_room"}, ""},
	{"unban_ip", []string{"accounts"}, refusedFail2ban},
	{"unregister", []string{"accounts"}, ""},
	{"unsubscribe_room", []string{"muc_room"}, ""},
	{"update", []string{"server"}, refusedErlang},
	{"update_list", []string{"server"}, refusedErlang},
	{"update_sql", []string{"sql"}, refusedSQL},
	{"user_resources", []string{"session"}, ""},
	{"user_sessions_info", []string{"session"}, ""},
}

// lookup finds a command of the reference.
func lookup(name string) (command, bool) {
	for _, c := range reference {
		if c.Name == name {
			return c, true
		}
	}
	return command{}, false
}

// tags returns the reference's tags of a command.
func tags(name string) []string {
	c, _ := lookup(name)
	return c.Tags
}

// refusal is a refused command's answer: why xmppgate does not offer it.
func refusal(c command) error {
	return commands.Errorf(commands.NotImplemented, commands.ReasonRefused, "", "%s: %s", c.Name, c.Refused)
}

// allowed applies an api-permission pattern list to a command, as
// ejabberd's api_permissions "what" does: the command must match a positive
// pattern ("*", its name, "[tag:T]" for one of its tags) and no pattern
// prefixed with "!".
func allowed(what []string, name string, tags []string) bool {
	matches := func(p string) bool {
		if p == "*" || p == name {
			return true
		}
		if t, ok := strings.CutPrefix(p, "[tag:"); ok {
			t = strings.TrimSuffix(t, "]")
			for _, x := range tags {
				if x == t {
					return true
				}
			}
		}
		return false
	}
	ok := false
	for _, p := range what {
		if neg, isNeg := strings.CutPrefix(p, "!"); isNeg {
			if matches(neg) {
				return false
			}
			continue
		}
		ok = ok || matches(p)
	}
	return ok
}

// scopeAllows reports whether a bearer token's scopes let it call a
// command: ejabberd:admin allows every command, a scope equal to the
// command's name or to one of its tags allows it. The JID's own API
// permission applies on top (a token never allows more than its JID).
func scopeAllows(scopes []string, name string, tags []string) bool {
	for _, s := range scopes {
		if s == commands.ScopeAdmin || s == name {
			return true
		}
		for _, t := range tags {
			if s == t {
				return true
			}
		}
	}
	return false
}
