"""Mints TURN REST API credentials with the secret the TURN server shares (--static-auth-secret).

Usage: python3 turn_credentials.py SECRET USER TTL_SECONDS
"""
import base64
import hashlib
import hmac
import json
import sys
import time


def mint_turn_credentials(secret: str, user: str, ttl_seconds: int) -> dict:
    expiry = int(time.time()) + ttl_seconds
    username = f"{expiry}:{user}"
    mac = hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()
    return {"username": username, "credential": base64.b64encode(mac).decode()}


if __name__ == "__main__":
    secret, user, ttl = sys.argv[1], sys.argv[2], int(sys.argv[3])
    print(json.dumps(mint_turn_credentials(secret, user, ttl)))
