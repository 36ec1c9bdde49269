package views

import (
	"context"
	"fmt"
	"io"
	"testing"
	"time"
)

// BenchmarkListPage renders a member's list page with 50 films, 5 members
// and 3 rolls, as cmd/loadtest's page, without the database.
func BenchmarkListPage(b *testing.B) {
	l := ListPage{ID: "0b7e5f3c-1111-4aaa-8bbb-2c3d4e5f6a7b", Name: "Friday film night", OwnerName: "Quiet Otter",
		Created: time.Now(), Owner: true, OwnerID: "6f1e2d3c-2222-4aaa-8bbb-2c3d4e5f6a7b", Version: 60,
		InviteURL: "http://localhost:8080/join/abcdefghijklmnopqrstuv"}
	for i := range 5 {
		l.Members = append(l.Members, Member{ID: fmt.Sprintf("6f1e2d3c-2222-4aaa-8bbb-2c3d4e5f6a%02d", i), Name: "Member Name", Owner: i == 0, You: i == 0})
	}
	for i := range 50 {
		l.Movies = append(l.Movies, Movie{ID: fmt.Sprintf("9a8b7c6d-3333-4aaa-8bbb-2c3d4e5f6a%02d", i), Title: fmt.Sprintf("Film number %d", i+1),
			Year: int32(1950 + i), AddedBy: "Member Name", AddedByID: l.Members[i%5].ID, AddedAt: time.Now(), CanRemove: true})
	}
	for i := range 3 {
		l.Rolls = append(l.Rolls, Roll{ID: fmt.Sprintf("1a2b3c4d-4444-4aaa-8bbb-2c3d4e5f6a%02d", i), Title: "Film number 7", Year: 1956, By: "Quiet Otter", At: time.Now()})
	}
	p := Page{Title: l.Name, CSSURL: "/static/app.1234.css", JSURL: "/static/app.1234.js", Viewer: "Quiet Otter", ViewerID: l.OwnerID}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if err := ListPageView(p, l).Render(ctx, io.Discard); err != nil {
			b.Fatal(err)
		}
	}
}
