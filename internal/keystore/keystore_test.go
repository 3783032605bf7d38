package keystore_test

import (
	"crypto/x509"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zkgo/zkgo/internal/keystore"
	"github.com/zkgo/zkgo/internal/testcerts"
)

// verifies reports whether pool verifies the leaf certificate.
func verifies(t *testing.T, pool *x509.CertPool, leaf *x509.Certificate) bool {
	t.Helper()
	_, err := leaf.Verify(x509.VerifyOptions{Roots: pool, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}})
	return err == nil
}

func TestKeyAndTrustStores(t *testing.T) {
	ca := testcerts.NewCA(t, "test CA")
	other := testcerts.NewCA(t, "other CA")
	p := ca.Peer("server1")
	const pw = "s3cret"
	for _, tc := range []struct {
		name, key, trust, typ string
	}{
		{"PEM", p.File, ca.CertFile, ""},
		{"JKS", p.JKS(pw), ca.TrustJKS(pw), ""},
		{"PKCS12", p.PKCS12(pw), ca.TrustPKCS12(pw), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cert, err := keystore.LoadKeyPair(tc.key, tc.typ, pw)
			if err != nil {
				t.Fatal(err)
			}
			if p.Cert.Leaf == nil || !cert.Leaf.Equal(p.Cert.Leaf) {
				t.Errorf("leaf %v, want server1's certificate", cert.Leaf.Subject)
			}
			if len(cert.Certificate) != 2 && tc.name != "PEM" {
				t.Errorf("chain of %d certificates, want the leaf and the CA", len(cert.Certificate))
			}
			pool, err := keystore.LoadTrust(tc.trust, tc.typ, pw)
			if err != nil {
				t.Fatal(err)
			}
			if !verifies(t, pool, cert.Leaf) {
				t.Error("the trust store does not verify a certificate its CA signed")
			}
			if verifies(t, pool, other.Peer("stranger").Cert.Leaf) {
				t.Error("the trust store verifies a certificate of another CA")
			}
			if tc.name == "PEM" {
				return
			}
			if _, err := keystore.LoadKeyPair(tc.key, tc.typ, "wrong"); err == nil || !strings.Contains(err.Error(), "password") {
				t.Errorf("key store with a wrong password: %v, want an error naming the password", err)
			}
			// The extension decides the type; an explicit type wins.
			renamed := filepath.Join(t.TempDir(), "store.bin")
			b, _ := os.ReadFile(tc.key)
			if err := os.WriteFile(renamed, b, 0o600); err != nil {
				t.Fatal(err)
			}
			if _, err := keystore.LoadKeyPair(renamed, "", pw); err == nil {
				t.Error("a store without a known extension read as PEM: no error")
			}
			if _, err := keystore.LoadKeyPair(renamed, strings.ToLower(tc.name), pw); err != nil {
				t.Errorf("with ssl.keyStore.type=%s: %v", strings.ToLower(tc.name), err)
			}
		})
	}
}

func TestPasswordFile(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "pw")
	if err := os.WriteFile(f, []byte("from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if pw, err := keystore.Password("inline", f); err != nil || pw != "from-file" {
		t.Errorf("Password with a path = %q, %v; want the file's first line without its newline", pw, err)
	}
	if pw, err := keystore.Password("inline", ""); err != nil || pw != "inline" {
		t.Errorf("Password without a path = %q, %v", pw, err)
	}
	if _, err := keystore.Password("", filepath.Join(dir, "missing")); err == nil {
		t.Error("a missing password file: no error")
	}
}

func TestCheckType(t *testing.T) {
	for v, want := range map[string]string{"": "", "pem": "PEM", "JKS": "JKS", "pkcs12": "PKCS12"} {
		if got, err := keystore.CheckType(v); err != nil || got != want {
			t.Errorf("CheckType(%q) = %q, %v; want %q", v, got, err, want)
		}
	}
	for _, v := range []string{"BCFKS", "JCEKS"} {
		if _, err := keystore.CheckType(v); err == nil {
			t.Errorf("CheckType(%q): no error", v)
		}
	}
}

// TestKeytoolStores reads stores made by the JDK's keytool, as an operator
// moving from Apache ZooKeeper has them: a PKCS12 key store (Java 17's
// default: PBES2 with AES-256), the same converted to JKS, and trust
// stores of both types holding the exported certificate.
func TestKeytoolStores(t *testing.T) {
	keytool, err := exec.LookPath("keytool")
	if err != nil {
		t.Skip("keytool (the JDK) is not installed")
	}
	dir := t.TempDir()
	const pw = "changeit"
	run := func(args ...string) {
		t.Helper()
		out, err := exec.Command(keytool, args...).CombinedOutput()
		if err != nil {
			t.Fatalf("keytool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	p12, jksFile, pemFile := filepath.Join(dir, "server.p12"), filepath.Join(dir, "server.jks"), filepath.Join(dir, "server.pem")
	run("-genkeypair", "-alias", "zk", "-keyalg", "EC", "-groupname", "secp256r1", "-dname", "CN=zk1,O=zkgo",
		"-ext", "SAN=ip:127.0.0.1", "-validity", "2", "-keystore", p12, "-storepass", pw, "-keypass", pw)
	run("-importkeystore", "-srckeystore", p12, "-srcstorepass", pw, "-destkeystore", jksFile,
		"-deststoretype", "JKS", "-deststorepass", pw, "-destkeypass", pw, "-noprompt")
	run("-exportcert", "-rfc", "-alias", "zk", "-keystore", p12, "-storepass", pw, "-file", pemFile)
	trustP12, trustJKS := filepath.Join(dir, "trust.p12"), filepath.Join(dir, "trust.jks")
	run("-importcert", "-noprompt", "-alias", "zk", "-file", pemFile, "-keystore", trustP12, "-storepass", pw)
	run("-importcert", "-noprompt", "-alias", "zk", "-file", pemFile, "-keystore", trustJKS, "-storetype", "JKS", "-storepass", pw)

	for _, f := range []string{p12, jksFile} {
		cert, err := keystore.LoadKeyPair(f, "", pw)
		if err != nil {
			t.Fatal(err)
		}
		if cert.Leaf.Subject.CommonName != "zk1" {
			t.Errorf("%s: leaf %v, want CN=zk1", filepath.Base(f), cert.Leaf.Subject)
		}
		for _, trust := range []string{trustP12, trustJKS, pemFile} {
			pool, err := keystore.LoadTrust(trust, "", pw)
			if err != nil {
				t.Fatal(err)
			}
			if !verifies(t, pool, cert.Leaf) {
				t.Errorf("%s does not verify the certificate of %s", filepath.Base(trust), filepath.Base(f))
			}
		}
	}
}

// TestEncryptedPEMKeys reads PEM key stores whose PKCS#8 key OpenSSL
// encrypted (testdata/README), as Apache's PemReader reads them with
// ssl.keyStore.password.
func TestEncryptedPEMKeys(t *testing.T) {
	for file, cn := range map[string]string{"ec-aes256-sha256.pem": "encrypted-ec", "rsa-aes128-sha1.pem": "encrypted-rsa",
		"ec-pbes1-3des.pem": "encrypted-ec"} {
		path := filepath.Join("testdata", file)
		cert, err := keystore.LoadKeyPair(path, "", "zkgo-test")
		if err != nil {
			t.Errorf("%s: %v", file, err)
			continue
		}
		if cert.Leaf.Subject.CommonName != cn {
			t.Errorf("%s: leaf %v", file, cert.Leaf.Subject)
		}
		if _, err := keystore.LoadKeyPair(path, "PEM", "wrong"); err == nil || !strings.Contains(err.Error(), "password") {
			t.Errorf("%s with a wrong password: %v, want an error naming the password", file, err)
		}
	}
	if _, err := keystore.LoadKeyPair("testdata/ec-pbes2-des3.pem", "", "zkgo-test"); err == nil || !strings.Contains(err.Error(), "zkgo reads AES-CBC") {
		t.Errorf("a key encrypted with PBES2 and 3DES: %v, want it refused naming what is read", err)
	}
}
