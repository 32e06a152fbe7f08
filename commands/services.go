package commands

// spineDefs are the user lifecycle commands (DreamHost's jabber module).
var spineDefs = []*Def{
	ListUsers, ListUsersNoPw, ListValidDomains, AddUser, RemoveUser, ReactivateUser, DeactivateUser,
}
