package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"
)

// MaxBodyBytes bounds every request body Tok decodes.
const MaxBodyBytes = 64 << 10

// WriteJSON writes v as JSON with the given status.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		// Only a programming error (an unmarshalable type) gets here.
		slog.Error("encode response", "error", err)
		status = http.StatusInternalServerError
		body = []byte(`{"error":{"code":"INTERNAL_ERROR","message":"An internal error occurred."}}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(append(body, '\n'))
}

// DecodeJSON decodes the request body into v strictly: at most MaxBodyBytes, a JSON
// content type when one is given, valid UTF-8, no key twice in an object, no null anywhere
// (no request schema of the API allows one), no unknown fields, and nothing after the
// value. Every failure is an *Error a client can act on.
func DecodeJSON(w http.ResponseWriter, r *http.Request, v any) error {
	if !jsonContent(r) {
		return &Error{Status: http.StatusUnsupportedMediaType, Code: CodeUnsupportedMedia, Message: "The request body must be application/json."}
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	if err != nil {
		return decodeError(err)
	}
	if !utf8.Valid(body) {
		return Validation("The request body is not valid UTF-8.")
	}
	if err := checkStrict(body); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return decodeError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return Validation("The request body must hold a single JSON value.")
	}
	return nil
}

// checkStrict walks the tokens of body and refuses what encoding/json lets through: a key
// twice in one object (the last would silently win) and null. Syntax errors are left to
// the decoder, which names them.
func checkStrict(body []byte) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	type frame struct {
		keys   map[string]bool // nil for an array
		path   string
		key    string // the key whose value comes next, in an object
		wantKV bool   // in an object, the next string token is a key
		index  int
	}
	var stack []*frame
	path := func() string {
		if len(stack) == 0 {
			return ""
		}
		f := stack[len(stack)-1]
		if f.keys != nil {
			return joinPath(f.path, f.key)
		}
		return f.path + "[" + strconv.Itoa(f.index) + "]"
	}
	// valueDone moves the innermost container past the value just read.
	valueDone := func() {
		if len(stack) == 0 {
			return
		}
		f := stack[len(stack)-1]
		if f.keys != nil {
			f.wantKV = true
		} else {
			f.index++
		}
	}
	for {
		tok, err := dec.Token()
		if err != nil {
			return nil //nolint:nilerr // EOF or a syntax error: the decoder reports it
		}
		if len(stack) > 0 {
			if f := stack[len(stack)-1]; f.keys != nil && f.wantKV {
				if key, ok := tok.(string); ok {
					if f.keys[key] {
						return InvalidField(joinPath(f.path, key), "appears more than once")
					}
					f.keys[key], f.key, f.wantKV = true, key, false
					continue
				}
			}
		}
		switch t := tok.(type) {
		case json.Delim:
			switch t {
			case '{':
				stack = append(stack, &frame{keys: map[string]bool{}, path: path(), wantKV: true})
			case '[':
				stack = append(stack, &frame{path: path()})
			default:
				stack = stack[:len(stack)-1]
				valueDone()
			}
		case nil:
			if p := path(); p != "" {
				return InvalidField(p, "must not be null")
			}
			return Validation("The request body must be a JSON object, not null.")
		default:
			valueDone()
		}
	}
}

func joinPath(parent, key string) string {
	if parent == "" {
		return key
	}
	return parent + "." + key
}

func decodeError(err error) *Error {
	var (
		syntax    *json.SyntaxError
		typeErr   *json.UnmarshalTypeError
		tooLarge  *http.MaxBytesError
		fieldName string
	)
	switch {
	case errors.As(err, &tooLarge):
		return &Error{Status: http.StatusRequestEntityTooLarge, Code: CodePayloadTooLarge, Message: fmt.Sprintf("The request body is larger than %d bytes.", tooLarge.Limit)}
	case errors.Is(err, io.EOF):
		return Validation("The request body is empty; a JSON object is required.")
	case errors.As(err, &syntax), errors.Is(err, io.ErrUnexpectedEOF):
		return Validation("The request body is not valid JSON.")
	case errors.As(err, &typeErr):
		field := typeErr.Field
		if field == "" {
			return Validation("The request body must be a JSON object.")
		}
		return InvalidField(field, "must be of type "+jsonType(typeErr.Type.Kind().String()))
	}
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		fieldName = strings.Trim(name, `"`)
		return InvalidField(fieldName, "is not a known field")
	}
	return Validation("The request body could not be read.")
}

func jsonType(kind string) string {
	switch kind {
	case "string":
		return "string"
	case "bool":
		return "boolean"
	case "slice", "array":
		return "array"
	case "map", "struct":
		return "object"
	default:
		return "number"
	}
}

// StrictJSON holds every JSON request body to what DecodeJSON enforces beyond its target
// type, before next runs: valid UTF-8, no key twice in an object at any depth, no null. So
// no handler can read a body another way and let a duplicate key or a null through. Bodies
// of another content type are left to the handler (DecodeJSON answers them 415); a body that
// is not JSON at all is too, so the decoder names what is wrong.
func StrictJSON(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body == nil || r.Body == http.NoBody || r.ContentLength == 0 || !jsonContent(r) {
			next.ServeHTTP(w, r)
			return
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxRequestBytes))
		if err != nil {
			WriteError(w, r, decodeError(err))
			return
		}
		if !utf8.Valid(body) {
			WriteError(w, r, Validation("The request body is not valid UTF-8."))
			return
		}
		if err := checkStrict(body); err != nil {
			WriteError(w, r, err)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		next.ServeHTTP(w, r)
	})
}

// jsonContent reports whether r's body is JSON by its Content-Type (or has none).
func jsonContent(r *http.Request) bool {
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		return true
	}
	mt, _, err := mime.ParseMediaType(ct)
	return err == nil && (mt == "application/json" || strings.HasSuffix(mt, "+json"))
}

// Optional is s as the API shows an optional string: null when empty.
func Optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
