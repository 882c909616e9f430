// Package web serves the browser chat page. The files are embedded so the
// server binary ships its own UI and needs nothing on disk at run time.
package web

import (
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"io/fs"
	"net/http"
	"path"
	"strings"

	"github.com/chatapp-dev/chatapp"
	"github.com/chatapp-dev/chatapp/internal/httperror"
)

// The page's files: index.html, style.css, app.js and the ES modules it
// imports from static/js/ (a directory pattern embeds its subfolders).
//
//go:embed static
var files embed.FS

// javaScript is the Content-Type of the page's scripts. A browser runs a
// module only with a JavaScript MIME type, and Go's mime package takes
// the host's tables (/etc/mime.types, the Windows registry) over its own:
// the type is set here, so that no host can stop the page.
const javaScript = "text/javascript; charset=utf-8"

// Handler serves the chat page (index.html, app.js and js/, style.css)
// from the embedded files. Mount it at "/"; the page finds the API at /chat and the
// WebSocket at /ws on the same origin unless told otherwise by query params.
//
// Cache-Control: no-cache makes a browser ask again on every load, so a
// redeployed binary is picked up at once; embedded files have no
// modification time, so each file's answer carries an ETag, the hash of
// its bytes, and a browser that has the file gets 304 without it (the page
// is two dozen files).
//
// Its errors are the API's JSON errors (an unknown file is 404 not_found,
// a method other than GET and HEAD 405 method_not_allowed), a browser's
// too: the page is for people, its errors for the clients that strayed.
func Handler() http.Handler {
	static, err := fs.Sub(files, "static")
	if err != nil {
		// Unreachable: "static" is checked by the go:embed directive at build time.
		panic(err)
	}
	fileServer := http.FileServerFS(static)
	etags := contentTags(static)
	return httperror.JSON(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			// The file server would answer any method with the file.
			w.Header().Set("Allow", "GET, HEAD")
			httperror.Write(w, chatapp.Errorf(chatapp.ENOTALLOWED, "the web page's files answer GET and HEAD only"))
			return
		}
		w.Header().Set("Cache-Control", "no-cache")
		if tag, ok := etags[fileName(r.URL.Path)]; ok {
			// The file server answers If-None-Match with it.
			w.Header().Set("ETag", tag)
		}
		if isFolder(static, r.URL.Path) {
			// The file server would list the folder's files (js/): a
			// folder is not one of the page's files.
			httperror.Write(w, chatapp.Errorf(chatapp.ENOTFOUND, "page not found"))
			return
		}
		if strings.HasSuffix(r.URL.Path, ".js") {
			// An error answer (a missing file) sets its own type.
			w.Header().Set("Content-Type", javaScript)
		}
		if strings.Contains(r.Header.Get("Range"), ",") {
			// Many ranges of a small file would make an answer many
			// times its size; the whole file is the honest answer.
			r.Header.Del("Range")
		}
		fileServer.ServeHTTP(w, r)
	}))
}

// fileName is the file a URL path names: index.html for the root.
func fileName(urlPath string) string {
	if name := strings.TrimPrefix(path.Clean("/"+urlPath), "/"); name != "" {
		return name
	}
	return "index.html"
}

// contentTags are the ETags of every embedded file, by name: a strong tag
// of the hash of its bytes, made once.
func contentTags(files fs.FS) map[string]string {
	tags := map[string]string{}
	fs.WalkDir(files, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := fs.ReadFile(files, name)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(data)
		tags[name] = `"` + base64.RawURLEncoding.EncodeToString(sum[:16]) + `"`
		return nil
	})
	return tags
}

// isFolder reports whether urlPath names a folder of files other than the
// root, whose index.html is the page.
func isFolder(files fs.FS, urlPath string) bool {
	name := strings.TrimPrefix(path.Clean("/"+urlPath), "/")
	if name == "" {
		return false
	}
	info, err := fs.Stat(files, name)
	return err == nil && info.IsDir()
}
