#!/usr/bin/env python3
"""torch_weights.py - move weights between rnnlab and PyTorch (optional; no test needs it).

rnnlab writes a model's weights with `rnnlab train --export CHECKPOINT` in the text format of the
PyTorch reference cases (../shared/reference/README.md): header keys, then one block
`tensor NAME NDIM dims... values` per tensor under PyTorch's state_dict names (weight_ih_l0,
weight_hh_l0, bias_ih_l0, bias_hh_l0, ... and head_weight, head_bias for the Linear head), then
`end`. `[train] init_from = FILE` starts an rnnlab run from such a file.

    python3 tests/gen/torch_weights.py load run-3.txt           # build torch modules, print a summary
    python3 tests/gen/torch_weights.py roundtrip run-3.txt out.txt
                                      # load into torch, write back, check every value is the same

The functions are the ones README.md ("Training", PyTorch) prints.
"""
import sys

import torch


def read_rnnlab(path):
    """-> (header dict, state dict of float64 tensors)"""
    tok = [t for line in open(path) for t in line.split('#')[0].split()]
    hdr, sd, i = {}, {}, 0
    while tok[i] != 'tensor':
        hdr[tok[i]] = tok[i + 1]
        i += 2
    while tok[i] == 'tensor':
        name, nd = tok[i + 1], int(tok[i + 2])
        dims = [int(d) for d in tok[i + 3:i + 3 + nd]]
        i += 3 + nd
        n = 1
        for d in dims:
            n *= d
        sd[name] = torch.tensor([float(v) for v in tok[i:i + n]], dtype=torch.float64).reshape(dims)
        i += n
    return hdr, sd


def modules(hdr, sd):
    """torch.nn.RNN/LSTM/GRU + torch.nn.Linear holding the weights of an rnnlab file."""
    I, H, L, O = (int(hdr[k]) for k in ('input_size', 'hidden_size', 'num_layers', 'output_size'))
    cell = hdr['cell']
    if cell == 'lstm':
        rnn = torch.nn.LSTM(I, H, L)
    elif cell == 'gru':
        rnn = torch.nn.GRU(I, H, L)
    elif cell in ('rnn_tanh', 'rnn_relu'):
        rnn = torch.nn.RNN(I, H, L, nonlinearity=cell[4:])
    else:
        raise SystemExit(f'{cell}: torch.nn has no such recurrent module')
    rnn, head = rnn.double(), torch.nn.Linear(H, O).double()
    rnn.load_state_dict({k: v for k, v in sd.items() if not k.startswith('head_')})
    head.load_state_dict({'weight': sd['head_weight'], 'bias': sd['head_bias']})
    return cell, rnn, head


def write_rnnlab(path, cell, rnn, head):
    """Writes torch modules in rnnlab's layout; cell: rnn_tanh, rnn_relu, lstm or gru."""
    sd = dict(rnn.state_dict(), head_weight=head.weight, head_bias=head.bias)
    with open(path, 'w') as f:
        f.write(f'format torchref-gradref-v1\ncell {cell}\ninput_size {rnn.input_size}\n'
                f'hidden_size {rnn.hidden_size}\nnum_layers {rnn.num_layers}\n'
                f'output_size {head.out_features}\ndtype float64\nn_tensors {len(sd)}\n')
        for k, v in sd.items():
            f.write(f'tensor {k} {v.dim()} ' + ' '.join(map(str, v.shape)) + '\n'
                    + ' '.join(repr(float(x)) for x in v.detach().double().flatten()) + '\n')
        f.write('end\n')


def main():
    if len(sys.argv) < 3 or sys.argv[1] not in ('load', 'roundtrip'):
        raise SystemExit(__doc__)
    hdr, sd = read_rnnlab(sys.argv[2])
    cell, rnn, head = modules(hdr, sd)
    print(f'{sys.argv[2]}: {rnn} + {head}')
    if sys.argv[1] == 'roundtrip':
        write_rnnlab(sys.argv[3], cell, rnn, head)
        _, back = read_rnnlab(sys.argv[3])
        bad = [k for k in sd if k.startswith(('weight', 'bias', 'head')) and not torch.equal(sd[k], back[k])]
        print('round trip: every value the same' if not bad else f'round trip: differs in {bad}')
        sys.exit(1 if bad else 0)


if __name__ == '__main__':
    main()
