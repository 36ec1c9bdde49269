package identity

import (
	"crypto/rand"
	"math/big"

	"github.com/moviedice/moviedice/queries"
)

var nameAdjectives = []string{
	"Quiet", "Brave", "Sleepy", "Curious", "Gentle", "Lucky", "Clever", "Merry", "Bold", "Calm",
	"Cosy", "Daring", "Eager", "Fuzzy", "Giddy", "Happy", "Jolly", "Kind", "Lively", "Mellow",
	"Nimble", "Plucky", "Quick", "Rosy", "Sunny", "Swift", "Tidy", "Witty", "Zesty", "Dreamy",
}

var nameAnimals = []string{
	"Otter", "Badger", "Fox", "Heron", "Lynx", "Marmot", "Owl", "Panda", "Puffin", "Quokka",
	"Raven", "Seal", "Sloth", "Stoat", "Tapir", "Tiger", "Walrus", "Wombat", "Yak", "Zebra",
	"Beaver", "Bison", "Crane", "Dingo", "Ferret", "Gecko", "Hedgehog", "Koala", "Lemur", "Moose",
}

// NewDisplayName returns a friendly generated name such as "Quiet Otter".
func NewDisplayName() string {
	return pick(nameAdjectives) + " " + pick(nameAnimals)
}

func pick(words []string) string {
	n, _ := rand.Int(rand.Reader, big.NewInt(int64(len(words))))
	return words[n.Int64()]
}

// MaxDisplayName is the longest display name, in characters.
const MaxDisplayName = 40

// CleanDisplayName cleans and checks a display name as queries.CleanLine
// does any name or title: 1–40 characters with one visible, in NFC.
func CleanDisplayName(input string) (string, error) {
	return queries.CleanLine("display_name", input, MaxDisplayName, "name")
}
