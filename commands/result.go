package commands

// Table is a tabular result: named columns and rows of cells. A cell is a
// string, an int64, a bool or a []string (DreamHost's array cells, e.g.
// args lists).
type Table struct {
	Columns []string
	Rows    [][]any
}

// Receipt says a change was queued: its token (shared by the account's
// pending changes) and, for RunNow, which batch and change it is.
type Receipt struct {
	Token    string
	batchID  int64
	changeID int64
}

// Status is a ResultStatus value: whether the command did what was asked
// (for a check, whether the answer is yes).
type Status bool

// The two statuses.
const (
	StatusOK     Status = true
	StatusFailed Status = false
)
