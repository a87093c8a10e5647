module github.com/ferryhq/ferry

go 1.26.8

require github.com/stretchr/testify v1.12.1

require (
	github.com/BurntSushi/toml v1.6.0 // indirect
	github.com/gorilla/mux v1.8.1 // indirect
	go.etcd.io/bbolt v1.5.0 // indirect
	go.yaml.in/yaml/v3 v3.0.5 // indirect
	golang.org/x/crypto v0.58.0 // indirect
	golang.org/x/sys v0.49.0 // indirect
	golang.org/x/time v0.16.0 // indirect
)
