"""Save two TF1-style models: variable `a` = 3 in model_a, `b` = 4 in model_b.

usage: python make_models.py DIR
"""
import sys

import tensorflow as tf

tf1 = tf.compat.v1


def save(directory, name, value):
    with tf.Graph().as_default():
        tf1.get_variable(name, initializer=tf.constant(value))
        saver = tf1.train.Saver()
        with tf1.Session() as sess:
            sess.run(tf1.global_variables_initializer())
            saver.save(sess, f"{directory}/model_{name}/model-{name}")


if __name__ == "__main__":
    save(sys.argv[1], "a", 3.0)
    save(sys.argv[1], "b", 4.0)
