# A throwaway test CA and a server certificate it signs, for the TLS conformance cases (sourced
# after common.bash, never run on its own).  Nothing here is trusted anywhere but by the test
# that made it: the files live in the script's own temporary folder.
#
#   make_test_certificate DIR   writes into DIR (EC P-256, valid for 2 days):
#       ca.pem                  the test CA (a client trusts the server by trusting this file)
#       server.pem server.key   the server certificate, subject alternative names IP 127.0.0.1,
#                               IP ::1 and DNS localhost, followed by ca.pem as its chain
#                               (for --cert / --pkey)
#     and prints the base64 SHA-256 of the server certificate's SubjectPublicKeyInfo (the form
#     Chromium's --ignore-certificate-errors-spki-list takes).  Returns 1 when openssl fails.
make_test_certificate() {
    local dir=$1
    mkdir -p "$dir" || return 1
    (
        set -e
        cd "$dir"
        openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
            -subj "/CN=TURN conformance test CA" -keyout ca.key -out ca.pem \
            -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign"
        openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
            -subj "/CN=localhost" -keyout server.key -out server.csr
        printf '%s\n' "basicConstraints=critical,CA:FALSE" "keyUsage=critical,digitalSignature" \
            "extendedKeyUsage=serverAuth" "subjectAltName=IP:127.0.0.1,IP:::1,DNS:localhost" >server.ext
        openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 \
            -extfile server.ext -out server-leaf.pem
        cat server-leaf.pem ca.pem >server.pem
    ) >"$dir/openssl.log" 2>&1 || { show "$dir/openssl.log"; return 1; }
    openssl x509 -in "$dir/server-leaf.pem" -pubkey -noout | openssl pkey -pubin -outform der |
        openssl dgst -sha256 -binary | base64
}
