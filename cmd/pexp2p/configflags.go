package main

import (
	"fmt"
	"reflect"
	"strconv"
	"unicode/utf8"

	"github.com/spf13/pflag"
)

// setText parses s into the field, with the same syntax as TOML values and
// flags: strings as is, booleans, integers, durations.
func setText(v reflect.Value, s string) error {
	switch p := v.Addr().Interface().(type) {
	case *string:
		if !utf8.ValidString(s) {
			return errNotUTF8
		}
		*p = s
	case *bool:
		b, err := strconv.ParseBool(s)
		if err != nil {
			return fmt.Errorf("not a boolean (true or false)")
		}
		*p = b
	case *int:
		n, err := strconv.Atoi(s)
		if err != nil {
			return fmt.Errorf("not an integer")
		}
		if n < 0 {
			return fmt.Errorf("must not be negative")
		}
		*p = n
	case *Duration:
		return p.UnmarshalText([]byte(s))
	default:
		return fmt.Errorf("unsupported config field type %s", v.Type())
	}
	return nil
}

func textOf(v reflect.Value) string {
	switch x := v.Interface().(type) {
	case Duration:
		return x.String()
	default:
		return fmt.Sprint(x)
	}
}

// configFlag is a pflag.Value that only records the text; values are
// applied over the config file after it has been read, so that flags win.
type configFlag struct {
	def, val string
	typ      string
	set      bool
}

func (f *configFlag) String() string {
	if f.set {
		return f.val
	}
	return f.def
}
func (f *configFlag) Set(s string) error { f.val, f.set = s, true; return nil }
func (f *configFlag) Type() string       { return f.typ }

// configFlags holds the flags registered for every config key.
type configFlags struct {
	fs    *pflag.FlagSet
	flags map[string]*configFlag
}

// addConfigFlags registers --<key> for every config key on fs.
func addConfigFlags(fs *pflag.FlagSet) *configFlags {
	cf := &configFlags{fs: fs, flags: map[string]*configFlag{}}
	def := DefaultConfig()
	for _, f := range configFields() {
		v := def.value(f)
		typ := "string"
		switch v.Interface().(type) {
		case bool:
			typ = "bool"
		case int:
			typ = "int"
		case Duration:
			typ = "duration"
		}
		flag := &configFlag{def: textOf(v), typ: typ}
		cf.flags[f.key] = flag
		pf := fs.VarPF(flag, f.key, "", f.doc)
		if typ == "bool" {
			pf.NoOptDefVal = "true"
		}
	}
	return cf
}

// apply copies every flag the user set into c, validating each value.
func (cf *configFlags) apply(c *Config) error {
	if cf == nil {
		return nil
	}
	for _, f := range configFields() {
		flag := cf.flags[f.key]
		if flag == nil || !flag.set {
			continue
		}
		if err := setText(c.value(f), flag.val); err != nil {
			return &UsageError{What: "flag --" + f.key, Value: flag.val, Err: err}
		}
	}
	return nil
}
