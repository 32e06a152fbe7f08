package credential

import (
	"encoding/binary"
	"errors"
)

// binaryVersion leads the binary form, so a later form can be told apart.
const binaryVersion = 1

var errBinary = errors.New("credential: malformed binary form")

// MarshalBinary encodes the credential compactly: the queue stores the
// keys of every password it derives ahead (sealed), and opens them again
// at apply, 100,000 in a big batch, where JSON's decoding cost more than
// the rest of the opening.
func (c SCRAM) MarshalBinary() ([]byte, error) {
	out := make([]byte, 0, 8+len(c.Salt)+len(c.SHA1Stored)+len(c.SHA1Server)+len(c.SHA256Stored)+len(c.SHA256Server)+5)
	out = append(out, binaryVersion)
	out = binary.AppendUvarint(out, uint64(c.Iterations))
	for _, f := range [][]byte{c.Salt, c.SHA1Stored, c.SHA1Server, c.SHA256Stored, c.SHA256Server} {
		out = binary.AppendUvarint(out, uint64(len(f)))
		out = append(out, f...)
	}
	return out, nil
}

// UnmarshalBinary decodes MarshalBinary's form, whole or not at all.
func (c *SCRAM) UnmarshalBinary(b []byte) error {
	if len(b) == 0 || b[0] != binaryVersion {
		return errBinary
	}
	b = b[1:]
	it, n := binary.Uvarint(b)
	if n <= 0 || it == 0 || it > 1<<24 {
		return errBinary
	}
	b = b[n:]
	var fields [5][]byte
	for i := range fields {
		l, n := binary.Uvarint(b)
		if n <= 0 || l > uint64(len(b)-n) {
			return errBinary
		}
		fields[i] = append([]byte(nil), b[n:n+int(l)]...)
		b = b[n+int(l):]
	}
	if len(b) != 0 {
		return errBinary
	}
	*c = SCRAM{Iterations: int(it), Salt: fields[0], SHA1Stored: fields[1], SHA1Server: fields[2],
		SHA256Stored: fields[3], SHA256Server: fields[4]}
	return nil
}
