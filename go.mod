module github.com/bridgeway/bridgeway

go 1.26.8
