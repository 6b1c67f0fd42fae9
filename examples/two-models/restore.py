"""Restore a and b from the merged checkpoint the way a trainer would.

usage: python restore.py MOUNTPOINT
"""
import sys

import tensorflow as tf

tf1 = tf.compat.v1

with tf.Graph().as_default():
    a = tf1.get_variable("a", shape=[])
    b = tf1.get_variable("b", shape=[])
    with tf1.Session() as sess:
        prefix = tf.train.latest_checkpoint(sys.argv[1])
        tf1.train.Saver().restore(sess, prefix)
        print(f"restored from {prefix}: a={sess.run(a):g} b={sess.run(b):g}")
