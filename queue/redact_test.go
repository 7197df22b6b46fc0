package queue

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestRedactHidesEveryFormOfPassword(t *testing.T) {
	tests := []struct{ in, want string }{
		{"postgres://apphub:hunter2@db:5432/apphub", "postgres://apphub:xxxxx@db:5432/apphub"},
		{"postgres://apphub@db/apphub?password=hunter2&sslmode=require", "postgres://apphub@db/apphub?password=xxxxx&sslmode=require"},
		{"postgres://db/apphub?user=apphub&PASSWORD=hunter2", "postgres://db/apphub?PASSWORD=xxxxx&user=apphub"},
		{"postgres://db/apphub?sslpassword=hunter2&sslkey=/k", "postgres://db/apphub?sslkey=%2Fk&sslpassword=xxxxx"},
		{"https://api.example.com/?access_token=hunter2", "https://api.example.com/?access_token=xxxxx"},
		{"postgres://db/apphub?sslmode=disable", "postgres://db/apphub?sslmode=disable"},
		{"file:///var/lib/apphub", "file:///var/lib/apphub"},
		{"postgres://apphub:hunter2@db:bad port/x", "(a URL that does not parse)"},
	}
	for _, tt := range tests {
		got := Redact(tt.in)
		assert.Equal(t, tt.want, got, tt.in)
		assert.NotContains(t, got, "hunter2")
	}
}

// Validation errors name the URL without its secrets.
func TestDriverErrorsDoNotEchoPasswords(t *testing.T) {
	for _, raw := range []string{
		"mysql://u:hunter2@db/x", "mysql://db/x?password=hunter2", "postgres:///x?password=hunter2",
		"sqlite://?password=hunter2", "postgres://u:hunter2@db:bad port/x",
	} {
		_, err := Driver(raw)
		if assert.Error(t, err, raw) {
			assert.NotContains(t, err.Error(), "hunter2", raw)
		}
	}
}
