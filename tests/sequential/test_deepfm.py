"""DeepFM's own algebra; behaviour shared with NCF is tested in ``test_bag_models.py``."""

import torch

from recstack.sequential.models.deepfm import DeepFMConfig, DeepFMModel
from recstack.sequential.modules import pad_left


def test_fm_part_is_the_sum_of_pairwise_field_products(travel):
    split, features = travel
    config = DeepFMConfig(n_items=split.n_items, metadata_fields="city,category",
                          embedding_dim=8, mlp_layers="16,8")
    torch.manual_seed(0)
    model = DeepFMModel(config, features).eval()
    with torch.no_grad():
        model.deep_out.weight.zero_()  # silence the deep part: the score is the FM alone
        for table in [model.history_w, model.item_w]:
            table.weight[1:].normal_()  # row 0 is padding and stays zero
        history = split.train[0][-config.max_length:]
        score = model.score(torch.as_tensor(pad_left([history], config.max_length)))[0]
        item = 7
        fields = [model.history_emb.weight[history].mean(0), model.item_emb.weight[item]]
        for name in ("city", "category"):
            codes = torch.as_tensor(features.codes[name][item])
            codes = codes[codes > 0]
            fields.append(model.meta_emb[name].tables[name].weight[codes].mean(0))
        pairs = sum((fields[i] * fields[j]).sum()
                    for i in range(len(fields)) for j in range(i + 1, len(fields)))
        first = model.history_w.weight[history].mean() + model.item_w.weight[item, 0]
    torch.testing.assert_close(score[item], model.bias + first + pairs + model.deep_out.bias[0])
