module gogreen/benches/go

go 1.19
