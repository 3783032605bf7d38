package keystore

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/des"
	"crypto/pbkdf2"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/asn1"
	"errors"
	"fmt"
	"hash"
	"unicode/utf16"
)

// An encrypted PKCS#8 key (RFC 5958's EncryptedPrivateKeyInfo): PBES2 with
// PBKDF2 and AES-CBC (RFC 8018), OpenSSL's default, and PKCS#12's
// pbeWithSHAAnd3-KeyTripleDES-CBC (RFC 7292; openssl pkcs8 -v1
// PBE-SHA1-3DES), the one of the two Apache 3.8's PemReader reads on Java
// 17 (Java has no SecretKeyFactory for PBES2).

type encryptedPrivateKeyInfo struct {
	Algorithm     algorithmIdentifier
	EncryptedData []byte
}

type algorithmIdentifier struct {
	Algorithm  asn1.ObjectIdentifier
	Parameters asn1.RawValue `asn1:"optional"`
}

type pbes2Params struct {
	KeyDerivationFunc algorithmIdentifier
	EncryptionScheme  algorithmIdentifier
}

type pbkdf2Params struct {
	Salt           []byte
	IterationCount int
	KeyLength      int                 `asn1:"optional"`
	PRF            algorithmIdentifier `asn1:"optional"`
}

var (
	oidPBES2  = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 5, 13}
	oidPBKDF2 = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 5, 12}
	// oidSHA3DES is pbeWithSHAAnd3-KeyTripleDES-CBC (RFC 7292).
	oidSHA3DES = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 12, 1, 3}
	prfs       = map[string]func() hash.Hash{
		"1.2.840.113549.2.7":  sha1.New,
		"1.2.840.113549.2.8":  sha256.New224,
		"1.2.840.113549.2.9":  sha256.New,
		"1.2.840.113549.2.10": sha512.New384,
		"1.2.840.113549.2.11": sha512.New,
	}
	aesKeySizes = map[string]int{
		"2.16.840.1.101.3.4.1.2":  16, // aes128-CBC
		"2.16.840.1.101.3.4.1.22": 24, // aes192-CBC
		"2.16.840.1.101.3.4.1.42": 32, // aes256-CBC
	}
)

// errPKCS8Password is what a wrong password almost always gives: padding
// or a key that does not parse.
var errPKCS8Password = errors.New("cannot decrypt the private key: wrong ssl.*.keyStore.password?")

// decryptPKCS8 returns the PKCS#8 DER of an encrypted key.
func decryptPKCS8(der []byte, password string) ([]byte, error) {
	var info encryptedPrivateKeyInfo
	if rest, err := asn1.Unmarshal(der, &info); err != nil || len(rest) > 0 {
		return nil, errors.New("the ENCRYPTED PRIVATE KEY is not an EncryptedPrivateKeyInfo")
	}
	var plain []byte
	var err error
	switch {
	case info.Algorithm.Algorithm.Equal(oidPBES2):
		plain, err = decryptPBES2(info, password)
	case info.Algorithm.Algorithm.Equal(oidSHA3DES):
		plain, err = decryptSHA3DES(info, password)
	default:
		err = fmt.Errorf("private key encrypted with %v: zkgo reads PBES2 with AES-CBC and PBE-SHA1-3DES", info.Algorithm.Algorithm)
	}
	if err != nil {
		return nil, err
	}
	pad := int(plain[len(plain)-1])
	if pad == 0 || pad > len(plain) || pad > aes.BlockSize {
		return nil, errPKCS8Password
	}
	for _, b := range plain[len(plain)-pad:] {
		if int(b) != pad {
			return nil, errPKCS8Password
		}
	}
	plain = plain[:len(plain)-pad]
	var probe asn1.RawValue
	if _, err := asn1.Unmarshal(plain, &probe); err != nil {
		return nil, errPKCS8Password
	}
	return plain, nil
}

// decryptPBES2 decrypts (without unpadding) a PBES2 key.
func decryptPBES2(info encryptedPrivateKeyInfo, password string) ([]byte, error) {
	var params pbes2Params
	if _, err := asn1.Unmarshal(info.Algorithm.Parameters.FullBytes, &params); err != nil {
		return nil, fmt.Errorf("PBES2 parameters: %w", err)
	}
	if !params.KeyDerivationFunc.Algorithm.Equal(oidPBKDF2) {
		return nil, fmt.Errorf("key derivation %v: zkgo reads PBKDF2", params.KeyDerivationFunc.Algorithm)
	}
	var kdf pbkdf2Params
	if _, err := asn1.Unmarshal(params.KeyDerivationFunc.Parameters.FullBytes, &kdf); err != nil {
		return nil, fmt.Errorf("PBKDF2 parameters: %w", err)
	}
	prf := sha1.New // the default (RFC 8018)
	if len(kdf.PRF.Algorithm) > 0 {
		if prf = prfs[kdf.PRF.Algorithm.String()]; prf == nil {
			return nil, fmt.Errorf("PBKDF2 with %v: zkgo reads HMAC with SHA-1 or SHA-2", kdf.PRF.Algorithm)
		}
	}
	size := aesKeySizes[params.EncryptionScheme.Algorithm.String()]
	if size == 0 {
		return nil, fmt.Errorf("private key cipher %v: zkgo reads AES-CBC", params.EncryptionScheme.Algorithm)
	}
	if kdf.KeyLength != 0 && kdf.KeyLength != size {
		return nil, fmt.Errorf("PBKDF2 key length %d for a %d-byte AES key", kdf.KeyLength, size)
	}
	if kdf.IterationCount < 1 || kdf.IterationCount > 10_000_000 {
		return nil, fmt.Errorf("PBKDF2 iteration count %d", kdf.IterationCount)
	}
	var iv []byte
	if _, err := asn1.Unmarshal(params.EncryptionScheme.Parameters.FullBytes, &iv); err != nil || len(iv) != aes.BlockSize {
		return nil, errors.New("AES-CBC parameters: want a 16-byte IV")
	}
	key, err := pbkdf2.Key(prf, password, kdf.Salt, kdf.IterationCount, size)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cbcDecrypt(block, iv, info.EncryptedData)
}

// cbcDecrypt decrypts data in CBC mode, leaving the padding on.
func cbcDecrypt(block cipher.Block, iv, data []byte) ([]byte, error) {
	if len(data) == 0 || len(data)%block.BlockSize() != 0 {
		return nil, errors.New("the encrypted key is not a whole number of cipher blocks")
	}
	plain := make([]byte, len(data))
	cipher.NewCBCDecrypter(block, iv).CryptBlocks(plain, data)
	return plain, nil
}

// decryptSHA3DES decrypts (without unpadding) a key encrypted with
// pbeWithSHAAnd3-KeyTripleDES-CBC: key and IV from PKCS#12's KDF.
func decryptSHA3DES(info encryptedPrivateKeyInfo, password string) ([]byte, error) {
	var params struct {
		Salt       []byte
		Iterations int
	}
	if _, err := asn1.Unmarshal(info.Algorithm.Parameters.FullBytes, &params); err != nil {
		return nil, fmt.Errorf("PBE parameters: %w", err)
	}
	if params.Iterations < 1 || params.Iterations > 10_000_000 {
		return nil, fmt.Errorf("PBE iteration count %d", params.Iterations)
	}
	pw := bmpString(password)
	key := pkcs12KDF(pw, params.Salt, params.Iterations, 1, 24)
	iv := pkcs12KDF(pw, params.Salt, params.Iterations, 2, des.BlockSize)
	block, err := des.NewTripleDESCipher(key)
	if err != nil {
		return nil, err
	}
	return cbcDecrypt(block, iv, info.EncryptedData)
}

// bmpString is a password as PKCS#12 feeds it to its KDF: UTF-16 big
// endian with a terminating zero character.
func bmpString(s string) []byte {
	var out []byte
	for _, r := range utf16.Encode([]rune(s)) {
		out = append(out, byte(r>>8), byte(r))
	}
	return append(out, 0, 0)
}

// pkcs12KDF is RFC 7292 appendix B.2 with SHA-1: n bytes of key material
// for purpose id (1 key, 2 IV).
func pkcs12KDF(password, salt []byte, iterations int, id byte, n int) []byte {
	const v = 64 // SHA-1's block size
	fill := func(b []byte) []byte {
		if len(b) == 0 {
			return nil
		}
		out := make([]byte, v*((len(b)+v-1)/v))
		for i := range out {
			out[i] = b[i%len(b)]
		}
		return out
	}
	d := bytes.Repeat([]byte{id}, v)
	in := append(fill(salt), fill(password)...)
	var out []byte
	for len(out) < n {
		h := sha1.New()
		h.Write(d)
		h.Write(in)
		a := h.Sum(nil)
		for range iterations - 1 {
			sum := sha1.Sum(a)
			a = sum[:]
		}
		out = append(out, a...)
		// I_j = (I_j + B + 1) mod 2^(8v), B being A repeated to v bytes.
		b := fill(a)
		for j := 0; j < len(in); j += v {
			carry := 1
			for k := v - 1; k >= 0; k-- {
				x := int(in[j+k]) + int(b[k]) + carry
				in[j+k] = byte(x)
				carry = x >> 8
			}
		}
	}
	return out[:n]
}
