package identity

import (
	"strings"
	"testing"
)

func TestNewCode(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		c := NewCode()
		if len(c) != codeLen || strings.Trim(c, alphabet) != "" {
			t.Fatalf("code %q is not 24 Crockford symbols", c)
		}
		if seen[c] {
			t.Fatalf("code %q drawn twice", c)
		}
		seen[c] = true
	}
	if g := GroupCode("0123456789ABCDEFGHJKMNPQ"); g != "0123-4567-89AB-CDEF-GHJK-MNPQ" {
		t.Errorf("grouped %q", g)
	}
}

func TestNormalizeCode(t *testing.T) {
	const want = "7K3MQ9XD2B8FHW4NC6PTR1VZ"
	ok := []struct{ name, in string }{
		{"as shown", "7K3M-Q9XD-2B8F-HW4N-C6PT-R1VZ"},
		{"lower case, spaces", "7k3m q9xd 2b8f hw4n c6pt r1vz"},
		{"no separators", want},
		{"surrounding white space and newlines", "\n  7K3M-Q9XD-2B8F-HW4N-C6PT-R1VZ \r\n"},
		{"look-alikes: l and i for 1", "7K3M-Q9XD-2B8F-HW4N-C6PT-RlVZ"},
		{"look-alikes: I for 1", "7K3M-Q9XD-2B8F-HW4N-C6PT-RIVZ"},
	}
	for _, tt := range ok {
		if got, err := NormalizeCode(tt.in); err != nil || got != want {
			t.Errorf("%s: %q -> %q, %v", tt.name, tt.in, got, err)
		}
	}
	if got, _ := NormalizeCode("oooo-oooo-oooo-oooo-oooo-oooo"); got != strings.Repeat("0", 24) {
		t.Errorf("O is not read as 0: %q", got)
	}
	bad := []struct{ name, in string }{
		{"empty", ""},
		{"too short", "7K3M-Q9XD-2B8F-HW4N-C6PT-R1V"},
		{"too long", "7K3M-Q9XD-2B8F-HW4N-C6PT-R1VZZ"},
		{"U is not Crockford", "UK3M-Q9XD-2B8F-HW4N-C6PT-R1VZ"},
		{"punctuation", "7K3M!Q9XD-2B8F-HW4N-C6PT-R1VZ"},
		{"non-ASCII look-alike", "7K3M-Q9XD-2B8F-HW4N-C6PT-R1VＺ"},
		{"invalid UTF-8", "7K3M-Q9XD-2B8F-HW4N-C6PT-R1V\xff"},
		{"overlong", strings.Repeat("-", 500) + want},
	}
	for _, tt := range bad {
		if got, err := NormalizeCode(tt.in); err == nil {
			t.Errorf("%s: %q accepted as %q", tt.name, tt.in, got)
		}
	}
}

func FuzzNormalizeCode(f *testing.F) {
	for _, seed := range []string{"7K3M-Q9XD-2B8F-HW4N-C6PT-R1VZ", "7k3m q9xd 2b8f hw4n c6pt r1vz", "", "OIL", "\xff\xfe", strings.Repeat("a", 300)} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, in string) {
		got, err := NormalizeCode(in)
		if err != nil {
			return
		}
		if len(got) != codeLen || strings.Trim(got, alphabet) != "" {
			t.Fatalf("%q normalized to %q", in, got)
		}
		for _, form := range []string{got, GroupCode(got), strings.ToLower(GroupCode(got))} {
			if again, err := NormalizeCode(form); err != nil || again != got {
				t.Fatalf("%q does not normalize back to %q: %q %v", form, got, again, err)
			}
		}
	})
}

func TestArgonVerifier(t *testing.T) {
	code := NewCode()
	h := defaultArgon.hash(code)
	if !strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Errorf("hash %q does not carry OWASP-minimum parameters", h)
	}
	if ok, err := verifyHash(h, code); !ok || err != nil {
		t.Errorf("right code rejected: %v", err)
	}
	if ok, _ := verifyHash(h, NewCode()); ok {
		t.Errorf("wrong code accepted")
	}
	if h2 := defaultArgon.hash(code); h2 == h {
		t.Errorf("two hashes of one code share a salt")
	}
	t.Run("stronger parameters stored with a hash still verify", func(t *testing.T) {
		strong := argonParams{memoryKiB: 32 * 1024, time: 3, threads: 2}.hash(code)
		if ok, err := verifyHash(strong, code); !ok || err != nil {
			t.Errorf("%v %v", ok, err)
		}
	})
	for _, broken := range []string{"", "$argon2i$v=19$m=1,t=1,p=1$AAAA$AAAA", strings.Replace(h, "v=19", "v=18", 1), h[:len(h)-5] + "!!!!!"} {
		if ok, err := verifyHash(broken, code); ok || err == nil {
			t.Errorf("malformed verifier %q: %v %v", broken, ok, err)
		}
	}
}
