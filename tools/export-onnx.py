#!/usr/bin/env python3
"""
Exports a Depth Anything V2 state dict (.pth) to ONNX with the OFFICIAL PyTorch code, as the yardstick
for tools/bench-ort.ts (the same weights in onnxruntime-web).

    /usr/bin/python3 tools/export-onnx.py --official PATH WEIGHTS.pth OUT.onnx [--encoder vits] [--size 518]
    /usr/bin/python3 tools/export-onnx.py --official PATH --config CASE/config.json CASE/weights.pth OUT.onnx

PATH: the official repository (github.com/DepthAnything/Depth-Anything-V2): a checkout, or a bare git
directory (its HEAD is read with `git archive`). Its `depth_anything_v2/` package is copied into a
temporary directory at run time; nothing of it is kept here.

Needs torch (tested with 1.13, Debian python3-torch); no torchvision, OpenCV or onnx package: the
official dpt.py imports cv2 and torchvision.transforms.Compose for its `infer_image` helper only, so
when they are missing they are replaced by empty stand-ins (the exported `forward` never touches them).

The export: the state dict loaded strictly into DepthAnythingV2, eval mode, float32, a static
1x3xSIZExSIZE input named `pixel_values`, output `predicted_depth` [1, SIZE, SIZE], opset 17 (the
settings of the transformers.js-style exports). `--config` builds the official classes at the widths of
a fixture config.json (the tiny parity cases) instead of a released encoder.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import types

RELEASED = {  # dpt.py's model_configs
    'vits': {'features': 64, 'out_channels': [48, 96, 192, 384]},
    'vitb': {'features': 128, 'out_channels': [96, 192, 384, 768]},
    'vitl': {'features': 256, 'out_channels': [256, 512, 1024, 1024]},
    'vitg': {'features': 384, 'out_channels': [1536, 1536, 1536, 1536]},
}


def copy_official(src: str, dst: str) -> None:
    """The official `depth_anything_v2` package from a checkout or a bare git directory into dst."""
    pkg = os.path.join(src, 'depth_anything_v2')
    if os.path.isdir(pkg):
        shutil.copytree(pkg, os.path.join(dst, 'depth_anything_v2'))
        return
    if not os.path.isfile(os.path.join(src, 'HEAD')):
        sys.exit(f'{src}: neither a checkout (no depth_anything_v2/) nor a git directory (no HEAD)')
    tar = subprocess.run(['git', f'--git-dir={src}', 'archive', 'HEAD', 'depth_anything_v2'], check=True, capture_output=True).stdout
    subprocess.run(['tar', '-x', '-C', dst], input=tar, check=True)


def stub_missing(name: str, attrs: dict) -> None:
    try:
        __import__(name)
    except ImportError:
        parts = name.split('.')
        for i in range(1, len(parts) + 1):
            sys.modules.setdefault('.'.join(parts[:i]), types.ModuleType('.'.join(parts[:i])))
        for k, v in attrs.items():
            setattr(sys.modules[name], k, v)


def build(args, torch):
    from depth_anything_v2.dpt import DepthAnythingV2, DPTHead
    if not args.config:
        return DepthAnythingV2(encoder=args.encoder, **RELEASED[args.encoder]), None
    with open(args.config) as f:
        cfg = json.load(f)
    if cfg.get('version') != 'v2' or 'max_depth' in cfg or cfg.get('ffn', 'mlp') != 'mlp':
        sys.exit(f'{args.config}: only V2 relative-depth configs with the mlp FFN are exported')
    from functools import partial
    from depth_anything_v2.dinov2 import DinoVisionTransformer
    from depth_anything_v2.dinov2_layers import MemEffAttention, NestedTensorBlock
    model = DepthAnythingV2(encoder=cfg['encoder'], features=cfg['features'], out_channels=cfg['out_channels'],
                            use_bn=cfg['use_bn'], use_clstoken=cfg['use_clstoken'])
    # dinov2.py's vit_small/vit_base settings at the fixture's widths (what the fixtures ran).
    model.pretrained = DinoVisionTransformer(
        img_size=518, patch_size=cfg['patch_size'], embed_dim=cfg['embed_dim'], depth=cfg['depth'],
        num_heads=cfg['heads'], mlp_ratio=4, block_fn=partial(NestedTensorBlock, attn_class=MemEffAttention), init_values=1.0 if cfg.get('layer_scale', True) else None,
        block_chunks=0, num_register_tokens=0, interpolate_antialias=False, interpolate_offset=0.1)
    model.intermediate_layer_idx[cfg['encoder']] = cfg['layers']
    model.depth_head = DPTHead(cfg['embed_dim'], cfg['features'], cfg['use_bn'], out_channels=cfg['out_channels'],
                               use_clstoken=cfg['use_clstoken'])
    return model, cfg['hw']


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--official', required=True, help='Depth-Anything-V2 checkout or bare git directory')
    p.add_argument('--encoder', default='vits', choices=sorted(RELEASED))
    p.add_argument('--config', help="a fixture config.json (tiny widths) instead of --encoder; its 'hw' is the input size")
    p.add_argument('--size', type=int, default=518, help='square input side, a multiple of 14 (default 518)')
    p.add_argument('--opset', type=int, default=17)
    p.add_argument('weights')
    p.add_argument('out')
    args = p.parse_args()

    import torch
    import warnings
    # The tracer's notes on the constant patch grid and upsampling sizes: expected for a static export.
    warnings.filterwarnings('ignore', category=torch.jit.TracerWarning)
    warnings.filterwarnings('ignore', message='The shape inference of prim::Constant')
    stub_missing('cv2', {})
    stub_missing('torchvision.transforms', {'Compose': lambda ts: ts})
    with tempfile.TemporaryDirectory() as tmp:
        copy_official(args.official, tmp)
        sys.path.insert(0, tmp)
        model, hw = build(args, torch)
        sd = torch.load(args.weights, map_location='cpu')
        if isinstance(sd, dict) and 'model' in sd and not any(k.startswith('pretrained.') for k in sd):
            sd = sd['model']
        model.load_state_dict(sd, strict=True)
        model.eval().float()
        H, W = hw or (args.size, args.size)
        if H % 14 or W % 14:
            sys.exit(f'input size {H}x{W} is not a multiple of 14')
        x = torch.randn(1, 3, H, W, generator=torch.Generator().manual_seed(0))
        tmp_out = args.out + '.partial'
        with torch.no_grad():
            ref = model(x)
            torch.onnx.export(model, x, tmp_out, opset_version=args.opset, do_constant_folding=True,
                              input_names=['pixel_values'], output_names=['predicted_depth'])
        os.replace(tmp_out, args.out)
    print(f'{args.out}: {os.path.getsize(args.out)} bytes, input pixel_values [1, 3, {H}, {W}], '
          f'output predicted_depth {list(ref.shape)}, opset {args.opset}, torch {torch.__version__}')


if __name__ == '__main__':
    main()
