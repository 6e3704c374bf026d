/** One config drives a CTR run; it is saved beside the weights, so a saved model says how it was made. */
import { z } from 'zod';

export const CTR_MODELS = ['lr', 'fm', 'deepfm', 'dcn', 'dcnv2'] as const;
export type CtrModelName = (typeof CTR_MODELS)[number];

/** Defaults follow the official code's DCN (embedding 8, 3 cross layers, MLP 16-16, dropout 0.2, Adam 1e-3). */
export const ctrConfigSchema = z
  .object({
    model: z.enum(CTR_MODELS),
    embeddingSize: z.number().int().positive().default(8),
    /** Hidden sizes of the deep part (DeepFM, DCN, DCNv2). */
    mlp: z.array(z.number().int().positive()).default([16, 16]),
    /** Cross layers (DCN, DCNv2). */
    crossLayers: z.number().int().nonnegative().default(3),
    /** Dropout after each hidden layer, training only. */
    dropout: z.number().min(0).lt(1).default(0.2),
    lr: z.number().positive().default(1e-3),
    batchSize: z.number().int().positive().default(256),
    epochs: z.number().int().positive().default(50),
    /** Stop after this many epochs without a better validation AUC. */
    patience: z.number().int().positive().default(2),
    /** L2 weight decay (torch Adam's), on embedding rows only when they are in a batch. */
    weightDecay: z.number().nonnegative().default(0),
    /**
     * Each epoch, this share of the training rows, drawn afresh per row, sees the unknown row instead of
     * its user ID (sparse field `user`), so that other user fields learn to stand in for the ID, as
     * they must for a user the model has never seen. Drawn from its own seeded stream in row order, so
     * every field set on the same rows and seed drops the same rows.
     */
    userIdDropout: z.number().min(0).lt(1).default(0),
    seed: z.number().int().default(0),
  })
  .strict();

export type CtrConfig = z.infer<typeof ctrConfigSchema>;
export type CtrConfigInput = z.input<typeof ctrConfigSchema>;
