package sqlstore

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/portti/portti/internal/storage"
)

// The token endpoint's hot reads, on SQLite: go test -run '^$' -bench .
// Each runs one goroutine ("serial", the latency of one lookup) and
// GOMAXPROCS goroutines ("parallel", the throughput of one node).

// benchStore opens a SQLite Store with one account and client and n access
// tokens, so that lookups go through a B-tree of realistic depth.
func benchStore(b *testing.B, n int) *Store {
	b.Helper()
	ctx := b.Context()
	s, err := Open(ctx, "sqlite:"+filepath.Join(b.TempDir(), "portti.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	if err := s.CreateAccount(ctx, storage.Account{ID: "acc1", Email: "a@example.com"}); err != nil {
		b.Fatal(err)
	}
	c := storage.Client{
		ID:                     "app1",
		Name:                   "Kirjasto",
		SecretHash:             "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
		RedirectURIs:           []string{"https://app1.example/callback", "https://app1.example/cb2"},
		PostLogoutRedirectURIs: []string{"https://app1.example/bye"},
		GrantTypes:             []string{"authorization_code", "refresh_token"},
		BackchannelLogoutURI:   "https://app1.example/logout",
		AllowedNetworks:        []string{"192.0.2.0/24"},
		IDTokenAlg:             "RS256",
		CreatedAt:              time.Now(),
		UpdatedAt:              time.Now(),
	}
	if err := s.CreateClient(ctx, c); err != nil {
		b.Fatal(err)
	}
	err = s.InTx(ctx, func(tx storage.Storage) error {
		for i := range n {
			t := storage.AccessToken{
				ID:        fmt.Sprintf("tok-%08d-Zm9vYmFyYmF6cXV4", i),
				ChainID:   fmt.Sprintf("chain-%08d", i),
				ClientID:  "app1",
				AccountID: "acc1",
				Scopes:    []string{"openid", "profile", "email"},
				Audience:  []string{"app1"},
				CreatedAt: time.Now(),
				ExpiresAt: time.Now().Add(time.Hour),
			}
			if err := tx.CreateAccessToken(ctx, t); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	return s
}

func BenchmarkGetAccessToken(b *testing.B) {
	const n = 10000
	s := benchStore(b, n)
	ctx := b.Context()
	b.Run("serial", func(b *testing.B) {
		i := 0
		for b.Loop() {
			if _, err := s.GetAccessToken(ctx, fmt.Sprintf("tok-%08d-Zm9vYmFyYmF6cXV4", i%n)); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.RunParallel(func(pb *testing.PB) {
			i := 0
			for pb.Next() {
				if _, err := s.GetAccessToken(ctx, fmt.Sprintf("tok-%08d-Zm9vYmFyYmF6cXV4", i%n)); err != nil {
					b.Error(err)
					return
				}
				i += 7
			}
		})
	})
}

func BenchmarkGetClient(b *testing.B) {
	s := benchStore(b, 0)
	ctx := b.Context()
	b.Run("serial", func(b *testing.B) {
		for b.Loop() {
			if _, err := s.GetClient(ctx, "app1"); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := s.GetClient(ctx, "app1"); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}
