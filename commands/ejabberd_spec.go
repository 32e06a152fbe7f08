package commands

// Reasons of the ejabberd-shaped commands.
const (
	ReasonScrammed    Reason = "passwords_scrammed"  // no recoverable password copy to hash
	ReasonUnknownHash Reason = "unknown_hash_method" // check_password_hash's hashmethod
)

// ejabberdDefs are the commands the ejabberd admin API introduced, family
// by family; register and unregister are AddUser and RemoveUser. The
// ejabberd front end refuses, with its reason, every other command of the
// ejabberd reference.
var ejabberdDefs = concat(
	[]*Def{ChangePassword, CheckAccount, CheckPassword, CheckPasswordHash, BanAccount, RegisteredUsers, RegisteredVhosts},
	[]*Def{ConnectedUsers, ConnectedUsersInfo, ConnectedUsersNumber, ConnectedUsersVhost, KickUser, KickSession,
		UserResources, UserSessionsInfo, NumResources, ResourceNum, ServerStatus, StatusNum, StatusNumHost},
	[]*Def{AddRosteritem, DeleteRosteritem, GetRoster, PushAlltoall, ProcessRosteritems, PushRoster, PushRosterAll},
	[]*Def{SendMessage, SendStanza, SendStanzaC2S, GetPresence, SetPresence, StatusList, StatusListHost},
	[]*Def{Stats, StatsHost, IncomingS2SNumber, OutgoingS2SNumber, ReloadConfig, SetLoglevel, GetLoglevel, ReopenLog, RotateLog,
		Stop, Restart, StopKindly, DumpConfig},
	[]*Def{GenMarkdownDocForCommands, GenHTMLDocForCommands, GenMarkdownDocForTags, Man},
	vcardDefs, userdataDefs, purgeDefs,
	ejabberdSrgDefs,
	backupDefs, transferDefs,
	oauthDefs,
)
