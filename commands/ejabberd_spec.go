package commands

// Reasons of the user commands of the ejabberd admin API; they go to
// users.go with their commands.
const (
	ReasonScrammed    Reason = "passwords_scrammed"  // no recoverable password copy to hash
	ReasonUnknownHash Reason = "unknown_hash_method" // check_password_hash's hashmethod
)

// ejabberdOtherDefs lists, until they are filed by noun with their
// families (users, roster, groups), the commands the ejabberd admin API
// introduced that are not yet in a family of their own; register and
// unregister are AddUser and RemoveUser. Temporary: this file goes once
// they are.
var ejabberdOtherDefs = concat(
	[]*Def{ChangePassword, CheckAccount, CheckPassword, CheckPasswordHash, BanAccount, RegisteredUsers, RegisteredVhosts},
	[]*Def{AddRosteritem, DeleteRosteritem, GetRoster, PushAlltoall, ProcessRosteritems, PushRoster, PushRosterAll},
	ejabberdSrgDefs,
)
