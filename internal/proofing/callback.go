package proofing

import (
	"fmt"
	"unicode"
)

// CallbackParams is the provider's answer at /proofing/callback (OpenID
// Connect Core 3.1.2.5 and 3.1.2.6): a code, or an error, with the state.
type CallbackParams struct {
	Code, State, Error, ErrorDescription string
}

// maxParam bounds every parameter: real codes and states are well under it.
const maxParam = 2048

// ParseCallback reads the callback's query. Every parameter may appear
// once; state is required; exactly one of code and error; no control
// characters. The error description is kept for the log only.
func ParseCallback(q map[string][]string) (CallbackParams, error) {
	var p CallbackParams
	one := func(name string) (string, error) {
		v := q[name]
		switch {
		case len(v) == 0:
			return "", nil
		case len(v) > 1:
			return "", fmt.Errorf("%w: %s given %d times", ErrBadAnswer, name, len(v))
		case len(v[0]) > maxParam:
			return "", fmt.Errorf("%w: %s is too long", ErrBadAnswer, name)
		}
		for _, r := range v[0] {
			if unicode.IsControl(r) || r == unicode.ReplacementChar {
				return "", fmt.Errorf("%w: %s holds a control character", ErrBadAnswer, name)
			}
		}
		return v[0], nil
	}
	var err error
	if p.Code, err = one("code"); err != nil {
		return p, err
	}
	if p.State, err = one("state"); err != nil {
		return p, err
	}
	if p.Error, err = one("error"); err != nil {
		return p, err
	}
	if p.ErrorDescription, err = one("error_description"); err != nil {
		return p, err
	}
	switch {
	case p.State == "":
		return CallbackParams{}, fmt.Errorf("%w: no state", ErrBadAnswer)
	case (p.Code == "") == (p.Error == ""):
		return CallbackParams{}, fmt.Errorf("%w: want exactly one of code and error", ErrBadAnswer)
	}
	return p, nil
}
