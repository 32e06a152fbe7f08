package commands

// Table is a tabular result: named columns and rows of cells. A cell is a
// string or a []string (DreamHost's array cells, e.g. args lists).
type Table struct {
	Columns []string
	Rows    [][]any
}

// Scalar is a one-word result.
type Scalar string
