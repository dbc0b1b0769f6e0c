#!/usr/bin/env python3
"""Writes the seed corpus of the loader fuzz targets into tests/fuzz/corpus/ (small valid files and
a few malformed ones per loader). Optional: the committed corpus is what `make fuzz` runs; rerun
this only to regenerate it. Deterministic (gzip with mtime 0)."""
import gzip, os, struct

here = os.path.dirname(os.path.abspath(__file__))

def put(loader, name, data):
    d = os.path.join(here, "corpus", loader)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)

def gz(data):
    return gzip.compress(data, compresslevel=9, mtime=0)

# ---- idx: 2 images of 28x28, 3 labels, small odd shapes, broken headers
img = struct.pack(">IIII", 0x803, 2, 28, 28) + bytes((i * 7) % 256 for i in range(2 * 784))
put("idx", "images2.idx.gz", gz(img))
put("idx", "images2.idx", img)
put("idx", "labels3.idx.gz", gz(struct.pack(">II", 0x801, 3) + bytes([0, 9, 4])))
put("idx", "images_3x2x2.idx", struct.pack(">IIII", 0x803, 3, 2, 2) + bytes(range(12)))
put("idx", "truncated.idx.gz", gz(img)[:200])
put("idx", "bad_magic.idx", struct.pack(">II", 0x802, 1) + b"\x00")
put("idx", "zero_dim.idx", struct.pack(">IIII", 0x803, 0, 28, 28))
put("idx", "huge_dims.idx", struct.pack(">IIII", 0x803, 0x7fffffff, 28, 28) + b"\x01" * 16)

# ---- csv: the user schema (id, t, a, b, y, split)
reg = b"id,t,a,b,y,split\ns1,0,0.5,1,0.25,train\ns1,1,-1,2e-3,1,train\ns2,0,3,4,0,valid\n" \
      b"s3,1,1,1,1,test\ns3,0,2,2,1,test\ns4,0,0,0,1,train\n"
put("csv", "regression.csv", reg)
put("csv", "regression.csv.gz", gz(reg))
put("csv", "no_final_newline.csv", reg.rstrip(b"\n"))
put("csv", "quoted.csv", b'id,t,a,b,y,split\n"s1","0","0.5","1","2",train\n"s,2",0,"1",2,0,"train"\n')
put("csv", "crlf.csv", reg.replace(b"\n", b"\r\n"))
put("csv", "ragged.csv", b"id,t,a,b,y,split\ns1,0,1,2\n")
put("csv", "not_a_number.csv", b"id,t,a,b,y,split\ns1,0,x,2,1,train\n")
put("csv", "bad_quote.csv", b'id,t,a,b,y,split\ns1,0,1"2,2,1,train\n')
put("csv", "empty.csv", b"")

# ---- music: seq,t,p21..p108,split
head = b"seq,t," + b",".join(b"p%d" % k for k in range(21, 109)) + b",split\n"
def roll_row(seq, t, keys, split):
    return b"%d,%d," % (seq, t) + b",".join(b"1" if k in keys else b"0" for k in range(21, 109)) + b"," + split + b"\n"
music = head
for seq, (n, split) in enumerate([(4, b"train"), (3, b"valid"), (5, b"test"), (2, b"train")]):
    for t in range(n):
        music += roll_row(seq, t, {60 + t, 64, 67 + seq}, split)
put("music", "four_pieces.csv", music)
put("music", "four_pieces.csv.gz", gz(music))
put("music", "no_final_newline.csv", music.rstrip(b"\n"))
put("music", "unsorted.csv", head + roll_row(1, 0, {60}, b"train") + roll_row(0, 0, {60}, b"train"))
put("music", "bad_value.csv", head + roll_row(0, 0, {60}, b"train").replace(b",1,", b",2,", 1))
put("music", "truncated.csv.gz", gz(music)[:300])

# ---- text
text = "Well, Prince, so Genoa and Lucca are now just family estates.\nÀ bientôt, café!\n".encode()
put("text", "utf8.txt", text)
put("text", "utf8.txt.gz", gz(text))
put("text", "bad_utf8.txt", b"abc\xc3(def\xed\xa0\x80ghi\xf8\n")
put("text", "tiny.txt", b"ab")
