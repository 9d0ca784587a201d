package admin

import (
	"context"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/portti/portti/internal/account"
	"github.com/portti/portti/internal/storage"
)

// noticeCacheTTL is how long a node serves the notices it read: every
// page shows them, and a database read per page would cost every page.
// A notice added or removed on this node shows at once; on another node
// (or from the command line) within this long.
const noticeCacheTTL = 10 * time.Second

// maxNoticeText bounds a notice's text in one language: a banner, not a
// page.
const maxNoticeText = 500

// NoticeInput is a notice to add.
type NoticeInput struct {
	From, Until            time.Time
	TextFI, TextSV, TextEN string
}

// AddNotice adds a notice. Every language needs its text (a person
// reading the page in Swedish must not get the Finnish one), and the
// notice must end after it starts and not have ended already.
func (s *Service) AddNotice(ctx context.Context, actor Actor, in NoticeInput, m account.Meta) (storage.Notice, error) {
	if !actor.Admin {
		return storage.Notice{}, ErrAdminOnly
	}
	n := storage.Notice{
		StartsAt: in.From.UTC(), EndsAt: in.Until.UTC(),
		TextFI: strings.TrimSpace(in.TextFI), TextSV: strings.TrimSpace(in.TextSV), TextEN: strings.TrimSpace(in.TextEN),
		CreatedAt: s.now(), CreatedBy: actor.Name,
	}
	for _, t := range []string{n.TextFI, n.TextSV, n.TextEN} {
		if t == "" || !utf8.ValidString(t) || utf8.RuneCountInString(t) > maxNoticeText || strings.ContainsAny(t, "\r\n\x00") {
			return n, ErrInvalid
		}
	}
	if in.From.IsZero() || in.Until.IsZero() || !n.EndsAt.After(n.StartsAt) || !n.EndsAt.After(s.now()) {
		return n, ErrInvalid
	}
	id, err := s.newID()
	if err != nil {
		return n, err
	}
	n.ID = id
	if err := s.cfg.Store.CreateNotice(ctx, n); err != nil {
		return n, err
	}
	_ = s.cfg.Audit.Record(ctx, nil, storage.Event{Kind: "notice.added", ClientIP: m.ClientIP, UserAgent: m.UserAgent,
		Reason: "by " + actor.Name + ": " + n.ID})
	s.forgetNotices()
	return n, nil
}

// RemoveNotice removes a notice; storage.ErrNotFound when there is none.
func (s *Service) RemoveNotice(ctx context.Context, actor Actor, id string, m account.Meta) error {
	if !actor.Admin {
		return ErrAdminOnly
	}
	if err := s.cfg.Store.DeleteNotice(ctx, id); err != nil {
		return err
	}
	_ = s.cfg.Audit.Record(ctx, nil, storage.Event{Kind: "notice.removed", ClientIP: m.ClientIP, UserAgent: m.UserAgent,
		Reason: "by " + actor.Name + ": " + id})
	s.forgetNotices()
	return nil
}

// Notices lists every notice, past, present and future.
func (s *Service) Notices(ctx context.Context) ([]storage.Notice, error) {
	return s.cfg.Store.ListNotices(ctx)
}

func (s *Service) forgetNotices() {
	s.noticeMu.Lock()
	s.noticeAt = time.Time{}
	s.noticeMu.Unlock()
}

// Banners returns the texts of the notices showing now in language lang,
// for the layout of every page (web.Config.Notices). A database error
// shows no banner (and is logged): a notice is never worth an error page.
func (s *Service) Banners(ctx context.Context, lang string) []string {
	now := s.now()
	s.noticeMu.Lock()
	defer s.noticeMu.Unlock()
	if s.noticeAt.IsZero() || now.Sub(s.noticeAt) > noticeCacheTTL || now.Before(s.noticeAt) {
		// Every notice, not only today's: one that starts within the
		// cache's life shows on time. There are a handful.
		all, err := s.cfg.Store.ListNotices(ctx)
		if err != nil {
			s.cfg.Logger.WarnContext(ctx, "notices not read", "error", err)
			return nil
		}
		s.notices, s.noticeAt = all, now
	}
	var out []string
	for _, n := range s.notices {
		if !now.Before(n.StartsAt) && now.Before(n.EndsAt) {
			out = append(out, n.Text(lang))
		}
	}
	return out
}
