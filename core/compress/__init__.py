"""Deep Compression (Han, Mao, Dally, ICLR 2016) end to end: magnitude pruning with retraining (`prune`),
weight sharing of the surviving weights with the paper's centroid initialisations (`sharing`), codebook
fine-tuning (`finetune`), the relative-index sparse format (`sparse`), Huffman coding (`huffman`), the
self-describing .dc file (`dcfile`: save_compressed / load_compressed), and the whole pipeline with the
size and accuracy of every stage (`pipeline`)."""
