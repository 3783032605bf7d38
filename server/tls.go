package server

// The secure client port (secureClientPort): the same client protocol and
// four-letter words over TLS, as Apache 3.8's NettyServerCnxnFactory
// serves them, with client certificates checked per ssl.clientAuth and
// authenticated as x509:<subject DN> (X509AuthenticationProvider).

import (
	"crypto/tls"
	"encoding/asn1"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strconv"
	"strings"
	"unicode/utf16"

	"github.com/zkgo/zkgo/internal/tlsnet"
	"github.com/zkgo/zkgo/server/config"
	"github.com/zkgo/zkgo/server/wire"
)

// ServerTLSConfig builds the TLS configuration of the secure client port
// from the ssl.* keys (package tlsnet).
func ServerTLSConfig(cfg *config.Config) (*tls.Config, error) {
	return tlsnet.ServerConfig(cfg.TLS, "ssl.")
}

// ListenSecure opens the secure client port. Accept returns connections
// whose TLS handshake has completed.
func ListenSecure(cfg *config.Config, log *slog.Logger) (*tlsnet.Listener, error) {
	tc, err := ServerTLSConfig(cfg)
	if err != nil {
		return nil, err
	}
	addr := net.JoinHostPort(cfg.SecureClientPortAddress, strconv.Itoa(cfg.SecureClientPort))
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("secure client port %s: %w", addr, err)
	}
	return tlsnet.NewListener(ln, tc, false, log), nil
}

// startSecure opens the secure client port beside the plain one and
// accepts on it until the server closes. The caller holds s.mu (as for
// startLoops). Nothing to do without a secureClientPort, or when Serve's
// own listener is the secure one (no plain clientPort).
func (s *Server) startSecure() error {
	if s.cfg.SecureClientPort == 0 {
		return nil
	}
	if l, ok := s.ln.(*tlsnet.Listener); ok && !l.Unified() {
		return nil // Serve's listener is the secure port (no plain clientPort)
	}
	ln, err := ListenSecure(s.cfg, s.log)
	if err != nil {
		return err
	}
	s.tlsLns = append(s.tlsLns, ln)
	s.log.Info("serving TLS clients", "addr", ln.Addr().String(), "clientAuth", s.cfg.TLS.ClientAuthMode())
	s.wg.Add(2)
	go func() {
		defer s.wg.Done()
		<-s.quit
		ln.Close()
	}()
	go func() {
		defer s.wg.Done()
		for {
			nc, err := ln.Accept()
			if err != nil {
				select {
				case <-s.quit:
				default:
					s.fail(fmt.Errorf("secure client port: %w", err))
				}
				return
			}
			if c := s.admit(nc); c != nil {
				go c.serve()
			}
		}
	}()
	return nil
}

// certIDs returns the ids a TLS client's verified certificate gives, as
// X509AuthenticationProvider.handleAuthentication: x509:<subject DN> and,
// when that DN is X509AuthenticationProvider.superUser, super:<DN>. A
// plain connection, or one without a verified certificate, gets none.
func (s *Server) certIDs(nc net.Conn) []wire.ID {
	tc, ok := nc.(*tls.Conn)
	if !ok {
		return nil
	}
	st := tc.ConnectionState()
	if len(st.VerifiedChains) == 0 || len(st.PeerCertificates) == 0 {
		return nil
	}
	dn, err := SubjectDN(st.PeerCertificates[0].RawSubject)
	if err != nil {
		s.log.Warn("client certificate subject unreadable: not authenticated", "err", err)
		return nil
	}
	var ids []wire.ID
	if su := s.cfg.TLS.SuperUser; su != "" && dn == su {
		ids = append(ids, wire.ID{Scheme: "super", ID: dn})
	}
	return append(ids, wire.ID{Scheme: "x509", ID: dn})
}

type rawATV struct {
	Type  asn1.ObjectIdentifier
	Value asn1.RawValue
}

type rawRDNSET []rawATV

// rfc2253Keywords are the attribute keywords Java's X500Principal.getName()
// emits (AVAKeyword entries that are RFC 2253 compliant); other attributes
// are written as dotted OIDs with a #hex value.
var rfc2253Keywords = map[string]string{
	"2.5.4.3": "CN", "2.5.4.6": "C", "2.5.4.7": "L", "2.5.4.8": "ST", "2.5.4.10": "O",
	"2.5.4.11": "OU", "2.5.4.9": "STREET", "0.9.2342.19200300.100.1.25": "DC",
	"0.9.2342.19200300.100.1.1": "UID",
}

// SubjectDN renders a DER-encoded X.500 name as Java's
// X500Principal.getName() (RFC 2253 form) does, which is the id Apache's
// X509AuthenticationProvider gives a client: RDNs last to first, joined by
// ','; multi-valued RDNs joined by '+'; values escaped as sun.security.x509.AVA
// does (",=+<>#;\"\\" backslash-escaped, leading and trailing spaces too).
func SubjectDN(raw []byte) (string, error) {
	var rdns []rawRDNSET
	rest, err := asn1.Unmarshal(raw, &rdns)
	if err != nil {
		return "", err
	}
	if len(rest) != 0 {
		return "", errors.New("trailing data after the name")
	}
	parts := make([]string, 0, len(rdns))
	for _, rdn := range slices.Backward(rdns) {
		avas := make([]string, 0, len(rdn))
		for _, ava := range rdn {
			avas = append(avas, avaString(ava))
		}
		parts = append(parts, strings.Join(avas, "+"))
	}
	return strings.Join(parts, ","), nil
}

func avaString(ava rawATV) string {
	oid := ava.Type.String()
	kw, known := rfc2253Keywords[oid]
	if !known {
		kw = oid
	}
	v := ava.Value
	var s string
	isString := v.Class == asn1.ClassUniversal
	switch {
	case !isString:
	case v.Tag == asn1.TagPrintableString, v.Tag == asn1.TagT61String, v.Tag == asn1.TagIA5String,
		v.Tag == asn1.TagUTF8String, v.Tag == 27: // GeneralString
		s = string(v.Bytes)
	case v.Tag == asn1.TagBMPString:
		if len(v.Bytes)%2 != 0 {
			isString = false
			break
		}
		u := make([]uint16, len(v.Bytes)/2)
		for i := range u {
			u[i] = uint16(v.Bytes[2*i])<<8 | uint16(v.Bytes[2*i+1])
		}
		s = string(utf16.Decode(u))
	default:
		isString = false
	}
	if !known || !isString {
		return kw + "=#" + hex.EncodeToString(v.FullBytes)
	}
	var b strings.Builder
	for _, r := range s {
		switch {
		case strings.ContainsRune(",=+<>#;\"\\", r):
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == 0:
			b.WriteString("\\00")
		default:
			b.WriteRune(r)
		}
	}
	esc := []rune(b.String())
	lead := 0
	for lead < len(esc) && (esc[lead] == ' ' || esc[lead] == '\r') {
		lead++
	}
	trail := len(esc) - 1
	for trail >= 0 && (esc[trail] == ' ' || esc[trail] == '\r') {
		trail--
	}
	var out strings.Builder
	out.WriteString(kw + "=")
	for i, r := range esc {
		if i < lead || i > trail {
			out.WriteByte('\\')
		}
		out.WriteRune(r)
	}
	return out.String()
}
