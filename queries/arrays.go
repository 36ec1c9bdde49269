package queries

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgtype"
)

// registerArrays makes one-dimensional arrays in binary format decode
// straight into Go slices: []uuid.UUID, []string, []int32, []bool and
// []time.Time. A list page's one row is some twenty such arrays. pgx's
// array codec plans every column by reflection on each query, scans each
// element through an interface, and, for uuid.UUID (an sql.Scanner),
// formats every element as text to parse it back. Here each column is one
// pass over its bytes, and a text array's strings share one allocation.
// Any other target, and text format, go to pgx's codec as before.
func registerArrays(m *pgtype.Map) {
	for _, a := range []struct {
		oid, elem uint32
		name      string
	}{
		{pgtype.UUIDArrayOID, pgtype.UUIDOID, "_uuid"},
		{pgtype.TextArrayOID, pgtype.TextOID, "_text"},
		{pgtype.Int4ArrayOID, pgtype.Int4OID, "_int4"},
		{pgtype.BoolArrayOID, pgtype.BoolOID, "_bool"},
		{pgtype.TimestamptzArrayOID, pgtype.TimestamptzOID, "_timestamptz"},
	} {
		t, ok := m.TypeForOID(a.oid)
		if !ok {
			continue
		}
		m.RegisterType(&pgtype.Type{Name: a.name, OID: a.oid, Codec: arrayCodec{Codec: t.Codec, elem: a.elem}})
	}
}

// arrayCodec is pgx's array codec with direct binary plans.
type arrayCodec struct {
	pgtype.Codec
	elem uint32
}

func (c arrayCodec) PlanScan(m *pgtype.Map, oid uint32, format int16, target any) pgtype.ScanPlan {
	if format == pgtype.BinaryFormatCode {
		switch target.(type) {
		case *[]uuid.UUID:
			if c.elem == pgtype.UUIDOID {
				return uuidArray{}
			}
		case *[]string:
			if c.elem == pgtype.TextOID {
				return textArray{}
			}
		case *[]int32:
			if c.elem == pgtype.Int4OID {
				return int4Array{}
			}
		case *[]bool:
			if c.elem == pgtype.BoolOID {
				return boolArray{}
			}
		case *[]time.Time:
			if c.elem == pgtype.TimestamptzOID {
				return timestamptzArray{}
			}
		}
	}
	return c.Codec.PlanScan(m, oid, format, target)
}

// array is a binary array's elements: walk them with next.
type array struct {
	src  []byte
	n    int // elements
	elem uint32
}

// parseArray reads a binary array's header (array_send's format: the
// dimension count, a flags word, the element type, and each dimension's
// length and lower bound). A multi-dimensional array is refused: the app
// has none, and a flat slice would lose its shape.
func parseArray(src []byte) (array, error) {
	if len(src) < 12 {
		return array{}, errors.New("array: header too short")
	}
	ndim := int32(binary.BigEndian.Uint32(src))
	elem := binary.BigEndian.Uint32(src[8:])
	switch {
	case ndim == 0:
		return array{elem: elem}, nil
	case ndim != 1:
		return array{}, fmt.Errorf("array: %d dimensions, want 1", ndim)
	case len(src) < 20:
		return array{}, errors.New("array: dimension too short")
	}
	n := int32(binary.BigEndian.Uint32(src[12:]))
	if n < 0 || int(n) > (len(src)-20)/4 { // each element has at least its length
		return array{}, fmt.Errorf("array: %d elements in %d bytes", n, len(src))
	}
	return array{src: src[20:], n: int(n), elem: elem}, nil
}

// next returns the next element's bytes, nil for NULL.
func (a *array) next() ([]byte, error) {
	if len(a.src) < 4 {
		return nil, errors.New("array: element length missing")
	}
	l := int32(binary.BigEndian.Uint32(a.src))
	a.src = a.src[4:]
	if l < 0 {
		return nil, nil
	}
	if int(l) > len(a.src) {
		return nil, errors.New("array: element longer than the array")
	}
	v := a.src[:l]
	a.src = a.src[l:]
	return v, nil
}

// scanArray decodes src into *dst element by element with one; a NULL
// array is a nil slice.
func scanArray[T any](src []byte, dst any, elem uint32, one func([]byte) (T, error)) error {
	out := dst.(*[]T)
	if src == nil {
		*out = nil
		return nil
	}
	a, err := parseArray(src)
	if err != nil {
		return err
	}
	if a.n > 0 && a.elem != elem {
		return fmt.Errorf("array: elements of type %d, want %d", a.elem, elem)
	}
	s := make([]T, a.n)
	for i := range s {
		v, err := a.next()
		if err != nil {
			return err
		}
		if s[i], err = one(v); err != nil {
			return fmt.Errorf("array element %d: %w", i, err)
		}
	}
	*out = s
	return nil
}

var errNull = errors.New("NULL where a value is required")

type uuidArray struct{}

// Scan decodes uuid[]. A NULL element is the zero uuid (GetListFilmsForMember
// marks the last film's missing successor so).
func (uuidArray) Scan(src []byte, dst any) error {
	return scanArray(src, dst, pgtype.UUIDOID, func(v []byte) (uuid.UUID, error) {
		var id uuid.UUID
		if v == nil {
			return id, nil
		}
		if len(v) != len(id) {
			return id, fmt.Errorf("uuid of %d bytes", len(v))
		}
		copy(id[:], v)
		return id, nil
	})
}

type textArray struct{}

// Scan decodes text[] into strings that share one allocation: the array's
// element bytes copied once, each string a part of them. Keeping any one
// of them keeps them all: right for a page's rows, read and dropped within
// a request; copy a string (strings.Clone) before holding it for long.
func (textArray) Scan(src []byte, dst any) error {
	var all string
	var base []byte
	if src != nil && len(src) > 20 {
		base = src[20:]
		all = string(base)
	}
	return scanArray(src, dst, pgtype.TextOID, func(v []byte) (string, error) {
		if v == nil {
			return "", errNull
		}
		if len(v) == 0 {
			return "", nil
		}
		at := cap(base) - cap(v) // v's offset in base
		return all[at : at+len(v)], nil
	})
}

type int4Array struct{}

func (int4Array) Scan(src []byte, dst any) error {
	return scanArray(src, dst, pgtype.Int4OID, func(v []byte) (int32, error) {
		if len(v) != 4 {
			return 0, fixedSize(v, 4)
		}
		return int32(binary.BigEndian.Uint32(v)), nil
	})
}

type boolArray struct{}

func (boolArray) Scan(src []byte, dst any) error {
	return scanArray(src, dst, pgtype.BoolOID, func(v []byte) (bool, error) {
		if len(v) != 1 {
			return false, fixedSize(v, 1)
		}
		return v[0] == 1, nil
	})
}

type timestamptzArray struct{}

// Scan decodes timestamptz[] (microseconds since 2000-01-01 UTC) into local
// times, as pgx does. ±infinity has no time.Time.
func (timestamptzArray) Scan(src []byte, dst any) error {
	return scanArray(src, dst, pgtype.TimestamptzOID, func(v []byte) (time.Time, error) {
		if len(v) != 8 {
			return time.Time{}, fixedSize(v, 8)
		}
		us := int64(binary.BigEndian.Uint64(v))
		if us == math.MaxInt64 || us == math.MinInt64 {
			return time.Time{}, errors.New("infinite timestamptz")
		}
		return time.Unix(y2k+us/1e6, us%1e6*1e3), nil
	})
}

// y2k is PostgreSQL's epoch, 2000-01-01 UTC, in Unix seconds.
const y2k = 946684800

func fixedSize(v []byte, want int) error {
	if v == nil {
		return errNull
	}
	return fmt.Errorf("%d bytes, want %d", len(v), want)
}
