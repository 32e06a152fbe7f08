package credential

import (
	"crypto/pbkdf2"
	"crypto/sha1"
	"crypto/sha256"
	"testing"
)

func BenchmarkNew(b *testing.B) {
	defer cpuPerOp(b)()
	for i := 0; i < b.N; i++ {
		if _, err := New("benchpass-x"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkNewParallel(b *testing.B) {
	defer cpuPerOp(b)()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := New("benchpass-x"); err != nil {
				b.Error(err)
			}
		}
	})
}

func BenchmarkPBKDF2SHA1(b *testing.B) {
	defer cpuPerOp(b)()
	for i := 0; i < b.N; i++ {
		_, _ = pbkdf2.Key(sha1.New, "benchpass-x", []byte("0123456789abcdef"), 4096, 20)
	}
}

func BenchmarkPBKDF2SHA256(b *testing.B) {
	defer cpuPerOp(b)()
	for i := 0; i < b.N; i++ {
		_, _ = pbkdf2.Key(sha256.New, "benchpass-x", []byte("0123456789abcdef"), 4096, 32)
	}
}

func BenchmarkSaltedPasswordSHA1(b *testing.B) {
	defer cpuPerOp(b)()
	for i := 0; i < b.N; i++ {
		_, _ = SaltedPassword(sha1.New, "benchpass-x", []byte("0123456789abcdef"), 4096)
	}
}

func BenchmarkSaltedPasswordSHA256(b *testing.B) {
	defer cpuPerOp(b)()
	for i := 0; i < b.N; i++ {
		_, _ = SaltedPassword(sha256.New, "benchpass-x", []byte("0123456789abcdef"), 4096)
	}
}
