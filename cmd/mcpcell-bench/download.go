package main

import (
	"bytes"
	"fmt"
	"net"
	"net/http"
	"os"
	"strconv"
	"time"
)

// downloadSize is what the download scenario fetches.
const downloadSize = 16 << 20

// download is the harness's HTTP server of downloadSize bytes on
// 127.0.0.1, which the fixture fetches directly and through the relay.
type download struct {
	url  string // by the name localhost, which a [network] hosts rule can name
	port int
	srv  *http.Server
}

func serveDownload() (*download, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("the download server: %w", err)
	}
	body := bytes.Repeat([]byte("x"), downloadSize)
	srv := &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		w.Write(body)
	})}
	go srv.Serve(ln)
	port := ln.Addr().(*net.TCPAddr).Port
	return &download{url: fmt.Sprintf("http://localhost:%d/16MiB", port), port: port, srv: srv}, nil
}

func (d *download) close() { d.srv.Close() }

// downloads measures a tools/call of the fixture's fetch of the download
// server, direct and in a cell whose [network] hosts names it: the
// transparent way (Go sends no loopback URL to a proxy) and through the
// relay's HTTP proxy. Each sample is one call, spawn excluded.
func (b *bench) downloads(direct, hosts mode, fixture []string, d *download) {
	rows := []struct {
		name  string
		proxy bool
	}{
		{fmt.Sprintf("%d MiB download over HTTP, transparent", downloadSize>>20), false},
		{fmt.Sprintf("%d MiB download over HTTP, through the proxy", downloadSize>>20), true},
	}
	var want []int
	for i, r := range rows {
		if b.want(r.name) {
			want = append(want, i)
		}
	}
	if len(want) == 0 {
		return
	}
	sessions, opened := open([]mode{direct, hosts}, fixture)
	defer func() {
		for _, s := range opened {
			s.close()
		}
	}()
	for _, i := range want {
		r := rows[i]
		times := map[string][]time.Duration{}
		for run := 0; run < b.n(20, 2); run++ {
			for _, m := range []mode{direct, hosts} {
				s := sessions[m.name]
				if s == nil {
					continue
				}
				// Direct, the proxy variables name nothing: the same fetch.
				proxy := r.proxy && m.name == hostsName
				t0 := time.Now()
				if _, err := s.call("tools/call", fmt.Sprintf(`{"name":"fetch","arguments":{"url":%q,"size":%d,"proxy":%t}}`, d.url, downloadSize, proxy)); err != nil {
					fmt.Fprintf(os.Stderr, "mcpcell-bench: %s, %s: %v\n", r.name, m.name, err)
					continue
				}
				times[m.name] = append(times[m.name], time.Since(t0))
			}
		}
		row := row{scenario: r.name, unit: "ms (median / p90)", values: map[string]string{}, vs: hostsName, need: []string{"direct", hostsName}}
		for _, m := range []mode{direct, hosts} {
			if len(times[m.name]) > 0 {
				row.values[m.name] = fmt.Sprintf("%.1f / %.1f", ms1(percentile(times[m.name], 0.5)), ms1(percentile(times[m.name], 0.9)))
			}
		}
		b.add(row)
	}
}
