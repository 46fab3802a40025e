package profiles

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"sync"
)

func vars(project, cell string, getenv func(string) string) map[string]string {
	home := getenv("HOME")
	if home == "" {
		home, _ = os.UserHomeDir()
	}
	xdg := func(env, fallback string) string {
		if v := getenv(env); filepath.IsAbs(v) {
			return filepath.Join(v, "mcpcell")
		}
		return filepath.Join(home, fallback, "mcpcell")
	}
	tmp := getenv("TMPDIR")
	if !filepath.IsAbs(tmp) {
		tmp = "/tmp"
	}
	return map[string]string{
		"PROJECT": project,
		"HOME":    home,
		"CACHE":   filepath.Join(xdg("XDG_CACHE_HOME", ".cache"), "cells", cell),
		"CONFIG":  xdg("XDG_CONFIG_HOME", ".config"),
		"STATE":   xdg("XDG_STATE_HOME", filepath.Join(".local", "state")),
		"TMP":     tmp,
	}
}

// varNames are the names of the profile's variables, sorted.
func varNames() []string {
	return slices.Sorted(maps.Keys(vars("", "", func(string) string { return "/" })))
}

var varRef = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`\$\{([^}]*)\}`) })

// expandAll expands ${VAR} in every string of v; key is v's TOML key.
func expandAll(v reflect.Value, key string, vars map[string]string, at func(string) Source) error {
	switch v.Kind() {
	case reflect.String:
		out, err := expand(v.String(), vars)
		if err != nil {
			return &Error{At: at(key), Msg: key + ": " + err.Error()}
		}
		v.SetString(out)
	case reflect.Struct:
		var errs []error
		for i := 0; i < v.NumField(); i++ {
			name := strings.Split(v.Type().Field(i).Tag.Get("toml"), ",")[0]
			if name == "" {
				name = strings.ToLower(v.Type().Field(i).Name)
			}
			errs = append(errs, expandAll(v.Field(i), join(key, name), vars, at))
		}
		return errors.Join(errs...)
	case reflect.Slice:
		var errs []error
		for i := 0; i < v.Len(); i++ {
			errs = append(errs, expandAll(v.Index(i), key, vars, at))
		}
		return errors.Join(errs...)
	case reflect.Map:
		var errs []error
		keys := v.MapKeys()
		slices.SortFunc(keys, func(a, b reflect.Value) int { return strings.Compare(a.String(), b.String()) })
		for _, k := range keys {
			e := reflect.New(v.Type().Elem()).Elem()
			e.Set(v.MapIndex(k))
			errs = append(errs, expandAll(e, join(key, tomlKey(k.String())), vars, at))
			v.SetMapIndex(k, e)
		}
		return errors.Join(errs...)
	case reflect.Interface:
		if v.IsNil() {
			return nil
		}
		e := reflect.New(v.Elem().Type()).Elem()
		e.Set(v.Elem())
		if err := expandAll(e, key, vars, at); err != nil {
			return err
		}
		v.Set(e)
	case reflect.Pointer:
		if !v.IsNil() {
			return expandAll(v.Elem(), key, vars, at)
		}
	}
	return nil
}

func join(key, name string) string {
	if key == "" {
		return name
	}
	return key + "." + name
}

// expand replaces ${NAME} with its value; an unknown name is an error.
func expand(s string, vars map[string]string) (string, error) {
	var err error
	out := varRef().ReplaceAllStringFunc(s, func(ref string) string {
		name := ref[2 : len(ref)-1]
		if v, ok := vars[name]; ok {
			return v
		}
		if err == nil {
			if strings.HasPrefix(name, "secret:") {
				err = fmt.Errorf("%s: secrets are not placed in strings (every local user can read a command line); use [secrets] to put one in the environment", ref)
			} else {
				err = fmt.Errorf("unknown variable %s (known: %s)", ref, strings.Join(slices.Sorted(maps.Keys(vars)), ", "))
			}
		}
		return ref
	})
	if err == nil && strings.Contains(varRef().ReplaceAllString(s, ""), "${") {
		err = fmt.Errorf("unterminated variable in %q", s)
	}
	return out, err
}
