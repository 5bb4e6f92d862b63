// Command yaml_reference reads YAML files the way kubectl does and prints, for each file, one
// JSON line: {"file": NAME, "docs": [...]} or {"file": NAME, "error": MESSAGE}. It is the
// reference that tests/yaml_fidelity.rs compares Coxswain's manifest reader against.
//
// kubectl (k8s.io/apimachinery's YAMLOrJSONDecoder) decodes each document with
// sigs.k8s.io/yaml.Unmarshal, which is yaml.Unmarshal from go-yaml v2 into an interface{},
// then convertToJSONableObject, then encoding/json. Debian ships go-yaml v2
// (golang-gopkg-yaml.v2-dev) but not sigs.k8s.io/yaml, so convertToJSONable below repeats
// sigs.k8s.io/yaml's convertToJSONableObject for the case kubectl uses (no JSON target type:
// the target is a runtime.RawExtension, a json.Unmarshaler). Documents that decode to null are
// skipped, as kubectl's StreamVisitor skips them.
//
// Build in GOPATH mode: GO111MODULE=off GOPATH=/usr/share/gocode go build -o OUT .
// Usage: yaml_reference FILE...
package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"reflect"
	"strconv"

	yaml "gopkg.in/yaml.v2"
)

type result struct {
	File  string            `json:"file"`
	Docs  []json.RawMessage `json:"docs,omitempty"`
	Error string            `json:"error,omitempty"`
}

func main() {
	out := json.NewEncoder(os.Stdout)
	for _, path := range os.Args[1:] {
		docs, err := readFile(path)
		r := result{File: path, Docs: docs}
		if err != nil {
			r = result{File: path, Error: err.Error()}
		}
		if err := out.Encode(r); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
	}
}

func readFile(path string) ([]json.RawMessage, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	docs := []json.RawMessage{}
	decoder := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var doc interface{}
		err := decoder.Decode(&doc)
		if err == io.EOF {
			return docs, nil
		}
		if err != nil {
			return nil, err
		}
		converted, err := convertToJSONable(doc)
		if err != nil {
			return nil, err
		}
		text, err := json.Marshal(converted)
		if err != nil {
			return nil, err
		}
		if !bytes.Equal(text, []byte("null")) {
			docs = append(docs, text)
		}
	}
}

// convertToJSONable is sigs.k8s.io/yaml's convertToJSONableObject with a nil jsonTarget.
func convertToJSONable(yamlObj interface{}) (interface{}, error) {
	switch typed := yamlObj.(type) {
	case map[interface{}]interface{}:
		strMap := make(map[string]interface{})
		for k, v := range typed {
			var keyString string
			switch typedKey := k.(type) {
			case string:
				keyString = typedKey
			case int:
				keyString = strconv.Itoa(typedKey)
			case int64:
				keyString = strconv.FormatInt(typedKey, 10)
			case float64:
				s := strconv.FormatFloat(typedKey, 'g', -1, 32)
				switch s {
				case "+Inf":
					s = ".inf"
				case "-Inf":
					s = "-.inf"
				case "NaN":
					s = ".nan"
				}
				keyString = s
			case bool:
				if typedKey {
					keyString = "true"
				} else {
					keyString = "false"
				}
			default:
				return nil, fmt.Errorf("unsupported map key of type: %s, key: %+#v, value: %+#v",
					reflect.TypeOf(k), k, v)
			}
			converted, err := convertToJSONable(v)
			if err != nil {
				return nil, err
			}
			strMap[keyString] = converted
		}
		return strMap, nil
	case []interface{}:
		arr := make([]interface{}, len(typed))
		for i, v := range typed {
			converted, err := convertToJSONable(v)
			if err != nil {
				return nil, err
			}
			arr[i] = converted
		}
		return arr, nil
	default:
		return yamlObj, nil
	}
}
