package storagetest

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/portti/portti/internal/storage"
)

// samlTests cover the SAML identity provider's records.
var samlTests = []conformanceTest{
	{"SAML/Keys", testSAMLKeys},
	{"SAML/ServiceProviders", testSAMLServiceProviders},
	{"SAML/MessageIDs", testSAMLMessageIDs},
	{"SAML/Participants", testSAMLParticipants},
}

// samlAt is at in microseconds (PostgreSQL's precision).
func samlAt(d time.Duration) time.Time { return at(d).Truncate(time.Microsecond) }

func testSAMLKeys(t *testing.T, s storage.Storage) {
	ctx := t.Context()
	at := samlAt
	k := storage.SAMLKey{ID: "k1", Use: "signing", Private: []byte{1, 2}, Certificate: []byte{3}, CreatedAt: at(0)}
	must(t, "CreateSAMLKey", s.CreateSAMLKey(ctx, k))
	must(t, "CreateSAMLKey 2", s.CreateSAMLKey(ctx, storage.SAMLKey{ID: "k2", Use: "pairwise", Private: []byte{4}, CreatedAt: at(time.Second)}))
	if err := s.CreateSAMLKey(ctx, k); !errors.Is(err, storage.ErrConflict) {
		t.Fatalf("same ID again: %v, want ErrConflict", err)
	}
	keys, err := s.ListSAMLKeys(ctx)
	must(t, "ListSAMLKeys", err)
	if len(keys) != 2 || keys[0].ID != "k1" || keys[0].Use != "signing" || string(keys[0].Private) != "\x01\x02" ||
		string(keys[0].Certificate) != "\x03" || !keys[0].CreatedAt.Equal(at(0)) || keys[1].Certificate != nil {
		t.Fatalf("keys = %+v", keys)
	}
}

func testSAMLServiceProviders(t *testing.T, s storage.Storage) {
	ctx := t.Context()
	at := samlAt
	sp := storage.SAMLServiceProvider{EntityID: "https://sp.example/", Metadata: []byte("<md/>"), Release: []string{"mail", "cn"},
		Source: storage.SAMLSourceCLI, ValidUntil: at(time.Hour), CreatedAt: at(0), UpdatedAt: at(0)}
	must(t, "Put", s.PutSAMLServiceProvider(ctx, sp))
	must(t, "Put other", s.PutSAMLServiceProvider(ctx, storage.SAMLServiceProvider{EntityID: "https://a.example/", Metadata: []byte("x"), Source: storage.SAMLSourceConfig}))
	got, err := s.GetSAMLServiceProvider(ctx, sp.EntityID)
	must(t, "Get", err)
	if string(got.Metadata) != "<md/>" || !slices.Equal(got.Release, sp.Release) || got.Source != "cli" || !got.ValidUntil.Equal(at(time.Hour)) {
		t.Fatalf("got %+v", got)
	}
	sp.Release, sp.Metadata, sp.UpdatedAt, sp.CreatedAt = nil, []byte("<md2/>"), at(time.Minute), at(time.Minute)
	must(t, "Put again", s.PutSAMLServiceProvider(ctx, sp))
	got, err = s.GetSAMLServiceProvider(ctx, sp.EntityID)
	must(t, "Get", err)
	if string(got.Metadata) != "<md2/>" || len(got.Release) != 0 || !got.CreatedAt.Equal(at(0)) || !got.UpdatedAt.Equal(at(time.Minute)) {
		t.Fatalf("after replacing: %+v", got)
	}
	all, err := s.ListSAMLServiceProviders(ctx)
	must(t, "List", err)
	if len(all) != 2 || all[0].EntityID != "https://a.example/" {
		t.Fatalf("list = %+v", all)
	}
	must(t, "Delete", s.DeleteSAMLServiceProvider(ctx, sp.EntityID))
	if err := s.DeleteSAMLServiceProvider(ctx, sp.EntityID); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("delete twice: %v", err)
	}
	if _, err := s.GetSAMLServiceProvider(ctx, sp.EntityID); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("get deleted: %v", err)
	}
}

func testSAMLMessageIDs(t *testing.T, s storage.Storage) {
	ctx := t.Context()
	must(t, "first use", s.UseSAMLMessageID(ctx, "m1", at(0), at(time.Minute)))
	if err := s.UseSAMLMessageID(ctx, "m1", at(time.Second), at(time.Hour)); !errors.Is(err, storage.ErrConflict) {
		t.Fatalf("replay: %v, want ErrConflict", err)
	}
	must(t, "other ID", s.UseSAMLMessageID(ctx, "m2", at(0), at(time.Minute)))
	// Once expired, the ID may be recorded again (its message is refused
	// for its age anyway).
	must(t, "after expiry", s.UseSAMLMessageID(ctx, "m1", at(2*time.Minute), at(3*time.Minute)))
	if err := s.UseSAMLMessageID(ctx, "m1", at(2*time.Minute), at(3*time.Minute)); !errors.Is(err, storage.ErrConflict) {
		t.Fatalf("replay after re-recording: %v", err)
	}
	must(t, "DeleteExpired", s.DeleteExpired(ctx, at(time.Hour)))
	must(t, "after clean-up", s.UseSAMLMessageID(ctx, "m2", at(time.Hour), at(2*time.Hour)))
}

func testSAMLParticipants(t *testing.T, s storage.Storage) {
	ctx := t.Context()
	createAccount(t, s, "acc1", "alice@example.com")
	se := storage.Session{ID: "sess1", AccountID: "acc1", CreatedAt: at(0), LastSeenAt: at(0), ExpiresAt: at(time.Hour)}
	must(t, "CreateSession", s.CreateSession(ctx, se))
	p := storage.SAMLParticipant{SessionID: "sess1", EntityID: "https://sp1/", NameID: "n1", SessionIndex: "i1", CreatedAt: at(0)}
	must(t, "Put", s.PutSAMLParticipant(ctx, p))
	must(t, "Put 2", s.PutSAMLParticipant(ctx, storage.SAMLParticipant{SessionID: "sess1", EntityID: "https://sp2/", NameID: "n2", SessionIndex: "i2", CreatedAt: at(time.Second)}))
	p.SessionIndex = "i1b"
	must(t, "Put again", s.PutSAMLParticipant(ctx, p))
	list, err := s.ListSAMLParticipants(ctx, "sess1")
	must(t, "List", err)
	if len(list) != 2 || list[0].EntityID != "https://sp1/" || list[0].SessionIndex != "i1b" || list[1].NameID != "n2" {
		t.Fatalf("list = %+v", list)
	}
	got, err := s.FindSAMLParticipant(ctx, "https://sp2/", "i2")
	must(t, "Find", err)
	if got.SessionID != "sess1" {
		t.Fatalf("found %+v", got)
	}
	if _, err := s.FindSAMLParticipant(ctx, "https://sp1/", "i2"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("another service's index: %v", err)
	}
	must(t, "Delete", s.DeleteSAMLParticipant(ctx, "sess1", "https://sp2/"))
	// A new session takes them over (one it has already stays its own).
	must(t, "CreateSession 2", s.CreateSession(ctx, storage.Session{ID: "sess2", AccountID: "acc1", CreatedAt: at(time.Minute), LastSeenAt: at(time.Minute), ExpiresAt: at(72 * time.Hour)}))
	must(t, "Put to sess1", s.PutSAMLParticipant(ctx, storage.SAMLParticipant{SessionID: "sess1", EntityID: "https://sp3/", NameID: "n3", SessionIndex: "i3", CreatedAt: at(0)}))
	must(t, "Put to sess2", s.PutSAMLParticipant(ctx, storage.SAMLParticipant{SessionID: "sess2", EntityID: "https://sp3/", NameID: "n3", SessionIndex: "i3-new", CreatedAt: at(time.Minute)}))
	must(t, "DeleteSession", s.DeleteSession(ctx, "sess1"))
	must(t, "Move", s.MoveSAMLParticipants(ctx, "sess1", "sess2"))
	list, err = s.ListSAMLParticipants(ctx, "sess2")
	must(t, "List", err)
	if len(list) != 2 || list[0].EntityID != "https://sp1/" || list[1].SessionIndex != "i3-new" {
		t.Fatalf("after the move: %+v", list)
	}
	if list, _ := s.ListSAMLParticipants(ctx, "sess1"); len(list) != 0 {
		t.Fatalf("the old session keeps %+v", list)
	}
	// Records of ended sessions go at the clean-up, a day on.
	must(t, "Put orphan", s.PutSAMLParticipant(ctx, storage.SAMLParticipant{SessionID: "gone", EntityID: "https://sp1/", NameID: "n", SessionIndex: "i", CreatedAt: at(0)}))
	must(t, "DeleteExpired", s.DeleteExpired(ctx, at(48*time.Hour)))
	if list, _ := s.ListSAMLParticipants(ctx, "gone"); len(list) != 0 {
		t.Fatalf("an ended session's record survived the clean-up: %+v", list)
	}
	if list, _ := s.ListSAMLParticipants(ctx, "sess2"); len(list) != 2 {
		t.Fatalf("the clean-up took a live session's records: %+v", list)
	}
}
