package previewurl

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRender(t *testing.T) {
	tests := []struct {
		name, template, launch string
		want                   Rendered
		pathStyle              bool
	}{
		{"host style https", "https://{launch}.preview.local", "abc", Rendered{"https://abc.preview.local", "abc.preview.local", "/"}, false},
		{"path style", "http://preview.minikube.local/{launch}", "abc", Rendered{"http://preview.minikube.local/abc", "preview.minikube.local", "/abc"}, true},
		{"nested path", "http://preview.local/apps/{launch}/", "x-1", Rendered{"http://preview.local/apps/x-1", "preview.local", "/apps/x-1"}, true},
		{"port kept in URL only", "http://{launch}.localhost:8080", "abc", Rendered{"http://abc.localhost:8080", "abc.localhost", "/"}, false},
		{"placeholder inside a label", "https://app-{launch}.example.com", "7", Rendered{"https://app-7.example.com", "app-7.example.com", "/"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tpl, err := Parse(tt.template)
			require.NoError(t, err)
			got, err := tpl.Render(tt.launch)
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
			assert.Equal(t, tt.pathStyle, tpl.PathStyle())
		})
	}
}

func TestFromHost(t *testing.T) {
	tpl, err := FromHost("{launch}.preview.example.com", "https")
	require.NoError(t, err)
	assert.Equal(t, "https://{launch}.preview.example.com", tpl.String())
	got, err := tpl.Render("demo")
	require.NoError(t, err)
	assert.Equal(t, "demo.preview.example.com", got.Host)

	_, err = FromHost("{launch}.preview.local", "ftp")
	assert.ErrorContains(t, err, "scheme must be http or https")
	_, err = FromHost("https://{launch}.preview.local", "https")
	assert.ErrorContains(t, err, "bare host")
}

func TestParseRejects(t *testing.T) {
	tests := []struct{ template, want string }{
		{"", "empty"},
		{"https://preview.local", "must contain {launch}"},
		{"ftp://{launch}.preview.local", "http:// or https://"},
		{"{launch}.preview.local", "http:// or https://"},
		{"https://{launch}.preview.local/{launch}", "not both"},
		{"https://user@{launch}.preview.local", "user info"},
		{"https://{launch}.preview.local/?a=b", "query"},
		{"https://{launch}_x.preview.local", "rendered host"},
		{"https://10.0.0.{launch}", "IP address"},
		{"https://{launch}.Preview.local", "rendered host"},
		{"https://preview.local//{launch}", "clean absolute path"},
	}
	for _, tt := range tests {
		t.Run(tt.template, func(t *testing.T) {
			_, err := Parse(tt.template)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}

func TestRenderRejectsLongLabel(t *testing.T) {
	tpl, err := Parse("https://{launch}.preview.local")
	require.NoError(t, err)
	long := "a123456789b123456789c123456789d123456789e123456789f123456789g1234"
	_, err = tpl.Render(long)
	assert.ErrorContains(t, err, "label")
}
