package live

import (
	"bytes"
	"encoding/binary"
	"math/rand/v2"
	"testing"
)

// writes records each write it is given.
type writes [][]byte

func (w *writes) Write(p []byte) (int, error) {
	*w = append(*w, bytes.Clone(p))
	return len(p), nil
}

// frame builds a websocket frame with a payload of n bytes.
func frame(n int, masked bool, fill byte) []byte {
	b := []byte{0x81, 0}
	switch {
	case n < 126:
		b[1] = byte(n)
	case n <= 0xffff:
		b[1] = 126
		b = binary.BigEndian.AppendUint16(b, uint16(n))
	default:
		b[1] = 127
		b = binary.BigEndian.AppendUint64(b, uint64(n))
	}
	if masked {
		b[1] |= 0x80
		b = append(b, 1, 2, 3, 4)
	}
	return append(b, bytes.Repeat([]byte{fill}, n)...)
}

// However the write buffer cuts a stream of frames, each frame reaches the
// connection in one write, unless it is too big to gather; and every byte
// arrives, in order.
func TestFrameJoinerWritesEachFrameWhole(t *testing.T) {
	sizes := []int{0, 1, 2, 125, 126, 127, 500, 511, 512, 513, 814, 4096, 65535, 65536, maxJoinedFrame + 1, 200 << 10}
	rng := rand.New(rand.NewPCG(1, 2))
	for round := range 50 {
		var stream []byte
		var frames [][]byte
		for range 20 {
			f := frame(sizes[rng.IntN(len(sizes))], rng.IntN(4) == 0, byte('a'+len(frames)%26))
			frames = append(frames, f)
			stream = append(stream, f...)
		}
		var got writes
		j := &frameJoiner{w: &got}
		for rest := stream; len(rest) > 0; {
			n := min(len(rest), 1+rng.IntN(1024))
			if rng.IntN(8) == 0 {
				n = min(len(rest), 1+rng.IntN(3)) // a few bytes at a time, as a header can come
			}
			if k, err := j.Write(rest[:n]); err != nil || k != n {
				t.Fatalf("round %d: wrote %d of %d: %v", round, k, n, err)
			}
			rest = rest[n:]
		}
		if !bytes.Equal(bytes.Join(got, nil), stream) {
			t.Fatalf("round %d: the bytes written differ from the stream", round)
		}
		if j.pending != nil || j.through != 0 {
			t.Fatalf("round %d: left holding a frame (%v, %d through)", round, j.pending != nil, j.through)
		}
		i := 0
		for _, f := range frames {
			if len(f) > maxJoinedFrame {
				for sum := 0; sum < len(f); i++ {
					sum += len(got[i])
				}
				continue
			}
			if !bytes.Equal(got[i], f) {
				t.Fatalf("round %d: a %d-byte frame came in a %d-byte write", round, len(f), len(got[i]))
			}
			i++
		}
	}
}
