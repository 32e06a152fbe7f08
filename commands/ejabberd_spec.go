package commands

// Reasons of the ejabberd-shaped commands.
const (
	// ReasonRefused: xmppgate does not offer what was asked (Kind
	// NotImplemented; Msg says why).
	ReasonRefused    Reason = "refused"
	ReasonOutOfRange Reason = "out_of_range" // resource_num's num
)

// ejabberdDefs are the commands the ejabberd admin API introduced, family
// by family; register and unregister are AddUser and RemoveUser. The
// ejabberd front end refuses, with its reason, every other command of the
// ejabberd reference.
var ejabberdDefs = concat(
	[]*Def{ConnectedUsers, ConnectedUsersInfo, ConnectedUsersNumber, ConnectedUsersVhost, KickUser, KickSession,
		UserResources, UserSessionsInfo, NumResources, ResourceNum, ServerStatus, StatusNum, StatusNumHost},
	[]*Def{SendMessage, SendStanza, SendStanzaC2S, GetPresence, SetPresence, StatusList, StatusListHost},
	[]*Def{Stats, StatsHost, IncomingS2SNumber, OutgoingS2SNumber, ReloadConfig, SetLoglevel, GetLoglevel, ReopenLog, RotateLog,
		Stop, Restart, StopKindly, DumpConfig},
	[]*Def{GenMarkdownDocForCommands, GenHTMLDocForCommands, GenMarkdownDocForTags, Man},
	ejabberdVcardDefs, ejabberdUserdataDefs, ejabberdPurgeDefs,
	[]*Def{Backup, Restore, Dump, Load, ExportPiefxis, ExportPiefxisHost, ImportPiefxis, ImportProsody},
	ejabberdOAuthDefs,
)
