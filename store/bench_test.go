package store

import (
	"context"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"
)

// BenchmarkWriteParallel: concurrent small write functions through the
// group-committing writer (FULL: fsync before each answer).
func BenchmarkWriteParallel(b *testing.B) {
	for _, sync := range []string{"FULL", "NORMAL"} {
		b.Run(sync, func(b *testing.B) {
			ctx := context.Background()
			st, err := Open(ctx, filepath.Join(b.TempDir(), "b.db"), Options{Synchronous: sync})
			if err != nil {
				b.Fatal(err)
			}
			defer st.Close()
			var n atomic.Int64
			b.SetParallelism(8)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					i := n.Add(1)
					if err := st.Write(ctx, func(tx *Tx) error {
						_, err := tx.InsertAccount(ctx, fmt.Sprint("a", i), 0)
						return err
					}); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}
