// Package scim is the protocol half of portti's SCIM 2.0 service provider
// (RFC 7643, RFC 7644): the schemas portti serves, the filter language,
// PATCH paths and operations applied to a resource's JSON, and error
// responses. It knows nothing of storage or HTTP routing; package
// provision maps resources onto accounts and serves them.
//
// Resources are handled as JSON objects (map[string]any) in canonical
// form: attribute names spelled as in the schema, extension attributes
// under their schema URN, numbers as json.Number. One evaluator then serves
// filters and PATCH on Users and Groups alike, and a PATCH is applied to a
// copy that is validated whole before anything is stored.
package scim

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
)

// scimType values (RFC 7644 3.12).
const (
	InvalidFilter = "invalidFilter"
	TooMany       = "tooMany"
	Uniqueness    = "uniqueness"
	Mutability    = "mutability"
	InvalidSyntax = "invalidSyntax"
	InvalidPath   = "invalidPath"
	NoTarget      = "noTarget"
	InvalidValue  = "invalidValue"
	InvalidVers   = "invalidVers"
	Sensitive     = "sensitive"
)

// ErrorSchema is the URN of SCIM error responses.
const ErrorSchema = "urn:ietf:params:scim:api:messages:2.0:Error"

// Error is a SCIM error response. Detail is for the registry's operator;
// it never contains a secret and names attributes, not people.
type Error struct {
	Status   int
	ScimType string
	Detail   string
}

func (e *Error) Error() string {
	if e.ScimType != "" {
		return fmt.Sprintf("scim %d %s: %s", e.Status, e.ScimType, e.Detail)
	}
	return fmt.Sprintf("scim %d: %s", e.Status, e.Detail)
}

// Errorf makes an Error.
func Errorf(status int, scimType, format string, args ...any) *Error {
	return &Error{Status: status, ScimType: scimType, Detail: fmt.Sprintf(format, args...)}
}

// BadRequest is a 400 with a scimType.
func BadRequest(scimType, format string, args ...any) *Error {
	return Errorf(http.StatusBadRequest, scimType, format, args...)
}

// MarshalJSON writes the RFC 7644 3.12 shape: status is a string.
func (e *Error) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Schemas  []string `json:"schemas"`
		Status   string   `json:"status"`
		ScimType string   `json:"scimType,omitempty"`
		Detail   string   `json:"detail,omitempty"`
	}{[]string{ErrorSchema}, strconv.Itoa(e.Status), e.ScimType, e.Detail})
}
