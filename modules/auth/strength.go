package auth

import (
	"strings"
	"unicode/utf8"

	zxcvbn "github.com/nbutton23/zxcvbn-go"
)

// MinPasswordScore is the zxcvbn score a new password needs (0-4): 3 is "safely unguessable",
// which resists an offline attack on a slow hash. Length alone lets "password123" through.
const MinPasswordScore = 3

// PasswordStrength is what the sign-up form shows as the user types, and what sign-up enforces.
type PasswordStrength struct {
	Score      int    `json:"score"`
	Acceptable bool   `json:"acceptable"`
	Message    string `json:"message"`
}

// CheckPassword rates a password with zxcvbn (dictionary words, names, keyboard patterns, dates,
// repeats, and the user's own name and address, which an attacker would try first).
func CheckPassword(password string, userInputs ...string) PasswordStrength {
	n := utf8.RuneCountInString(password)
	switch {
	case n < 8:
		return PasswordStrength{Message: "Use at least 8 characters."}
	case n > 1024:
		return PasswordStrength{Message: "Use at most 1024 characters."}
	}
	var inputs []string
	for _, in := range userInputs {
		if in = strings.TrimSpace(in); in != "" {
			inputs = append(inputs, in)
			if at := strings.IndexByte(in, '@'); at > 0 {
				inputs = append(inputs, in[:at])
			}
		}
	}
	// zxcvbn's cost grows with length; the first 100 characters decide.
	if len(password) > 100 {
		password = password[:100]
	}
	score := zxcvbn.PasswordStrength(password, inputs).Score
	st := PasswordStrength{Score: score, Acceptable: score >= MinPasswordScore}
	switch {
	case score >= 4:
		st.Message = "Strong password."
	case score >= MinPasswordScore:
		st.Message = "Good password."
	default:
		st.Message = "This password is too easy to guess. Use a longer phrase of uncommon words."
	}
	return st
}
