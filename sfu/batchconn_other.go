//go:build !linux

package sfu

import "net"

func newBatchWriter(c *net.UDPConn) batchWriter { return newXnetWriter(c) }
