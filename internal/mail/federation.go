package mail

import (
	"errors"
	"time"
)

// HomeOrganisationLinked tells the owner of an account that a home
// organisation's identity was linked to it (package federation): from then
// on that identity signs in to the account, so a link the owner did not
// make must be reported at once.
type HomeOrganisationLinked struct {
	Name      string
	Provider  string // the organisation's name in the owner's language
	When      time.Time
	ResetLink string // "this was not me"
}

// Kind implements Message.
func (HomeOrganisationLinked) Kind() string { return "home_organisation_linked" }

func (m HomeOrganisationLinked) check() error {
	var err error
	if m.Provider == "" {
		err = errors.New("Provider is empty")
	}
	return errors.Join(err, checkTime("When", m.When), checkLink("ResetLink", m.ResetLink))
}
