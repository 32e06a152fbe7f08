"""keys.py PASSWORD [SALT_BASE64] [ITERATIONS]

Prints the SCRAM-SHA-1 columns Openfire's ofUser keeps for a password
(storedKey, serverKey, salt, iterations; base64 as Openfire stores them),
as the elements import_openfire reads. RFC 5802 with the UTF-8 password:
SaltedPassword = PBKDF2-HMAC-SHA-1, StoredKey = SHA-1(HMAC(SaltedPassword,
"Client Key")), ServerKey = HMAC(SaltedPassword, "Server Key"). Used to
write users.xml by hand (Openfire itself cannot run here).
"""
import base64
import hashlib
import hmac
import os
import sys

password = sys.argv[1].encode()
salt = base64.b64decode(sys.argv[2]) if len(sys.argv) > 2 else os.urandom(32)
iterations = int(sys.argv[3]) if len(sys.argv) > 3 else 4096
salted = hashlib.pbkdf2_hmac("sha1", password, salt, iterations)
client_key = hmac.new(salted, b"Client Key", hashlib.sha1).digest()
stored = hashlib.sha1(client_key).digest()
server = hmac.new(salted, b"Server Key", hashlib.sha1).digest()
b64 = lambda b: base64.b64encode(b).decode()
print(f"<StoredKey>{b64(stored)}</StoredKey>")
print(f"<ServerKey>{b64(server)}</ServerKey>")
print(f"<Salt>{b64(salt)}</Salt>")
print(f"<IterationCount>{iterations}</IterationCount>")
