package queries_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/moviedice/moviedice/queries"
)

func TestCleanLine(t *testing.T) {
	const (
		enter     = "Please enter a title."
		tooLong   = "A title can be at most 200 characters long."
		control   = "A title cannot contain control characters or line breaks."
		direction = "A title cannot contain characters that change the direction of text."
		notText   = "The title contains bytes that are not text."
	)
	type tc struct {
		name, input string
		want        string // the cleaned text, when accepted
		message     string // the message, when refused
	}
	cases := []tc{
		{"plain text is kept", "Alien", "Alien", ""},
		{"spaces around are trimmed", "  Alien \t", "Alien", ""},
		{"empty", "", "", enter},
		{"only spaces", " \u00a0\u3000 ", "", enter},
		{"201 characters", strings.Repeat("x", 201), "", tooLong},
		{"200 characters", strings.Repeat("x", 200), strings.Repeat("x", 200), ""},
		{"invalid UTF-8", "Ali\xffen", "", notText},
		{"control character", "Alien\x00", "", control},
		{"tab inside", "Ali\ten", "", control},
		{"line break", "Ali\nen", "", control},
		{"line separator", "Ali\u2028en", "", control},

		// Nothing visible.
		{"only a zero-width space", "\u200b", "", enter},
		{"only a word joiner", "\u2060", "", enter},
		{"only a byte order mark", "\ufeff", "", enter},
		{"only a soft hyphen", "\u00ad", "", enter},
		{"invisible fillers and spaces", " \u200b\u2060 \ufeff\u00ad\u200b ", "", enter},
		{"only a zero-width joiner", "\u200d", "", enter},
		{"only a zero-width non-joiner", "\u200c\u200c", "", enter},
		{"only combining marks", "\u0301\u0308", "", enter},
		{"only a variation selector", "\ufe0f", "", enter},
		{"only a Hangul filler", "\u3164", "", enter},
		{"only empty Braille cells", "\u2800 \u2800", "", enter},
		{"fillers around a space", "\u200b \u200b", "", enter},

		// Fillers inside visible text are dropped.
		{"zero-width space inside", "Ali\u200ben", "Alien", ""},
		{"byte order mark in front", "\ufeffAlien", "Alien", ""},
		{"soft hyphen inside", "co\u00adop", "coop", ""},
		{"word joiner inside", "Ali\u2060en", "Alien", ""},
		{"fillers hide spaces at the ends", "\u200b Alien \u200b", "Alien", ""},

		// Text-direction controls.
		{"an override reversing what follows", "Otter\u202e2 days ago", "", direction},
		{"an isolate around a word", "\u2068Alien\u2069", "", direction},
		{"a right-to-left mark", "Alien\u200f", "", direction},
		{"an Arabic letter mark", "\u061cالرسالة", "", direction},

		// One form of each text: NFC, before the length is counted.
		{"decomposed é is composed", "Cafe\u0301", "Café", ""},
		{"precomposed é is kept", "Café", "Café", ""},
		{"decomposed Hangul is composed", "\u1100\u1161", "가", ""},
		{"a soft hyphen between letter and accent", "e\u00ad\u0301", "é", ""},
		{"200 decomposed é are 200 characters", strings.Repeat("e\u0301", 200), strings.Repeat("é", 200), ""},
		{"201 decomposed é are too many", strings.Repeat("e\u0301", 201), "", tooLong},
	}
	for _, r := range "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c" {
		cases = append(cases, tc{fmt.Sprintf("U+%04X is a direction control", r), "A" + string(r) + "B", "", direction})
	}
	for _, s := range []string{
		"الرسالة",                 // Arabic
		"גבעת חלפון אינה עונה",    // Hebrew
		"می\u200cخواهم زندگی کنم", // Persian, with a ZWNJ
		"दिलवाले दुल्हनिया ले जाएंगे", // Hindi
		"क्\u200dष", // Devanagari with a ZWJ
		"千と千尋の神隠し",  // Japanese
		"卧虎藏龙",      // Chinese
		"기생충",       // Korean
		"👨\u200d👩\u200d👧\u200d👦 Family Night", // an emoji ZWJ family
		"❤️ 🇫🇷", // a variation selector, a flag
		"Amélie (Le Fabuleux Destin d’Amélie Poulain)",
	} {
		cases = append(cases, tc{"kept as typed: " + s, s, s, ""})
	}

	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			got, err := queries.CleanLine("title", tt.input, 200, "title")
			if tt.message != "" {
				if err == nil {
					t.Fatalf("accepted %+q as %+q, want %q", tt.input, got, tt.message)
				}
				if queries.ErrorCode(err) != queries.EINVALID || queries.ErrorMessage(err) != tt.message {
					t.Errorf("%+q: %v, want %q", tt.input, err, tt.message)
				}
				return
			}
			if err != nil {
				t.Fatalf("%+q refused: %v", tt.input, err)
			}
			if got != tt.want {
				t.Errorf("%+q cleaned to %+q, want %+q", tt.input, got, tt.want)
			}
		})
	}
}

func TestShowTyped(t *testing.T) {
	cases := []struct{ input, want string }{
		{"Alien", "Alien"},
		{"  Alien ", "  Alien "},
		{"Café <b>", "Café <b>"},
		{"Ali\xffen", "Ali\ufffden"},
		{"Ali\xff\xfeen", "Ali\ufffd\ufffden"},
		{"Ali\x00en\n", "Ali\ufffden\ufffd"},
		{"Ali\ten", "Ali\ufffden"},
		{"Ali\u2028en", "Ali\ufffden"},
		{"Otter\u202e2 days ago", "Otter\ufffd2 days ago"},
		{"Ali\u200ben", "Ali\u200ben"}, // a filler shows nothing, and CleanLine drops it
	}
	for _, c := range cases {
		if got := queries.ShowTyped(c.input); got != c.want {
			t.Errorf("ShowTyped(%q) = %q, want %q", c.input, got, c.want)
		}
	}
}
