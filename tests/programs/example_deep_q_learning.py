"""keras.io example "Deep Q-Learning for Atari Breakout", imports changed: a convolutional Q
network and a target network (keras.Sequential), epsilon-greedy actions from
model(state_tensor, training=False) with keras.ops.argmax(...).numpy(), a replay memory sampled
with np.random.choice, targets from model_target.predict and keras.ops.amax, masks from
keras.ops.one_hot, the Q of the taken action by keras.ops.sum(keras.ops.multiply(q, masks)), a
Huber loss under a GradientTape, Adam with clipnorm, model_target.set_weights(model.get_weights()).
Breakout is replaced by a 4 x 4 grid image: the agent moves up / down / left / right, earns 1 on
the goal cell (and starts again elsewhere), and loses its one life walking into a wall (done:
the -1 target, as a lost life in Breakout); frame counts and the network are cut down."""
import numpy as np

import corenn as tf
from corenn import keras
from corenn.keras import layers

keras.utils.set_random_seed(7)
np.random.seed(7)

# Configuration parameters for the whole setup
gamma = 0.9  # Discount factor for past rewards
epsilon = 1.0  # Epsilon greedy parameter
epsilon_min = 0.1  # Minimum epsilon greedy parameter
epsilon_max = 1.0  # Maximum epsilon greedy parameter
epsilon_interval = epsilon_max - epsilon_min  # Rate at which to reduce chance of random action being taken
batch_size = 32  # Size of batch taken from replay buffer
max_steps_per_episode = 20
max_episodes = 300
SIZE, GOAL = 4, (3, 3)
MOVES = [(-1, 0), (1, 0), (0, -1), (0, 1)]


class TinyGrid:
    def __init__(self, seed):
        self.rng = np.random.default_rng(seed)

    def _spawn(self):
        while True:
            self.pos = tuple(self.rng.integers(0, SIZE, 2))
            if self.pos != GOAL:
                return

    def _frame(self):
        frame = np.zeros((SIZE, SIZE, 2), np.float32)
        frame[self.pos][0] = 1.0
        frame[GOAL][1] = 1.0
        return frame

    def reset(self):
        self._spawn()
        return self._frame(), {}

    def step(self, action):
        r, c = self.pos[0] + MOVES[action][0], self.pos[1] + MOVES[action][1]
        if not (0 <= r < SIZE and 0 <= c < SIZE):
            return self._frame(), 0.0, True, False, {}   # into the wall: the life is lost
        self.pos = (r, c)
        if self.pos == GOAL:
            self._spawn()
            return self._frame(), 1.0, False, False, {}
        return self._frame(), 0.0, False, False, {}


env = TinyGrid(7)
num_actions = 4


def create_q_model():
    # Network defined by the Deepmind paper
    return keras.Sequential(
        [
            layers.Input(shape=(SIZE, SIZE, 2)),
            # Convolutions on the frames on the screen
            layers.Conv2D(16, 2, strides=1, activation="relu"),
            layers.Flatten(),
            layers.Dense(64, activation="relu"),
            layers.Dense(num_actions, activation="linear"),
        ]
    )


# The first model makes the predictions for Q-values which are used to
# make a action.
model = create_q_model()
# Build a target model for the prediction of future rewards.
# The weights of a target model get updated every 10000 steps thus when the
# loss between the Q-values is calculated the target Q-value is stable.
model_target = create_q_model()
model_target.set_weights(model.get_weights())

# In the Deepmind paper they use RMSProp however then Adam optimizer
# improves training time
optimizer = keras.optimizers.Adam(learning_rate=0.002, clipnorm=1.0)

# Experience replay buffers
action_history = []
state_history = []
state_next_history = []
rewards_history = []
done_history = []
episode_reward_history = []
running_reward = 0
episode_count = 0
frame_count = 0
# Number of frames to take random action and observe output
epsilon_random_frames = 200
# Number of frames for exploration
epsilon_greedy_frames = 1500.0
# Maximum replay length
max_memory_length = 2000
# Train the model after 4 actions
update_after_actions = 4
# How often to update the target network
update_target_network = 200
# Using huber loss for stability
loss_function = keras.losses.Huber()
first_loss = last_loss = None

while True:
    observation, _ = env.reset()
    state = np.array(observation)
    episode_reward = 0

    for timestep in range(1, max_steps_per_episode):
        frame_count += 1

        # Use epsilon-greedy for exploration
        if frame_count < epsilon_random_frames or epsilon > np.random.rand(1)[0]:
            # Take random action
            action = np.random.choice(num_actions)
        else:
            # Predict action Q-values
            # From environment state
            state_tensor = keras.ops.convert_to_tensor(state)
            state_tensor = keras.ops.expand_dims(state_tensor, 0)
            action_probs = model(state_tensor, training=False)
            # Take best action
            action = keras.ops.argmax(action_probs[0]).numpy()

        # Decay probability of taking random action
        epsilon -= epsilon_interval / epsilon_greedy_frames
        epsilon = max(epsilon, epsilon_min)

        # Apply the sampled action in our environment
        state_next, reward, done, _, _ = env.step(action)
        state_next = np.array(state_next)

        episode_reward += reward

        # Save actions and states in replay buffer
        action_history.append(action)
        state_history.append(state)
        state_next_history.append(state_next)
        done_history.append(done)
        rewards_history.append(reward)
        state = state_next

        # Update every fourth frame and once batch size is over 32
        if frame_count % update_after_actions == 0 and len(done_history) > batch_size:
            # Get indices of samples for replay buffers
            indices = np.random.choice(range(len(done_history)), size=batch_size)

            # Using list comprehension to sample from replay buffer
            state_sample = np.array([state_history[i] for i in indices])
            state_next_sample = np.array([state_next_history[i] for i in indices])
            rewards_sample = [rewards_history[i] for i in indices]
            action_sample = [action_history[i] for i in indices]
            done_sample = keras.ops.convert_to_tensor([float(done_history[i]) for i in indices])

            # Build the updated Q-values for the sampled future states
            # Use the target model for stability
            future_rewards = model_target.predict(state_next_sample, verbose=0)
            # Q value = reward + discount factor * expected future reward
            updated_q_values = rewards_sample + gamma * keras.ops.amax(future_rewards, axis=1)

            # If final frame set the last value to -1
            updated_q_values = updated_q_values * (1 - done_sample) - done_sample

            # Create a mask so we only calculate loss on the updated Q-values
            masks = keras.ops.one_hot(action_sample, num_actions)

            with tf.GradientTape() as tape:
                # Train the model on the states and updated Q-values
                q_values = model(state_sample)

                # Apply the masks to the Q-values to get the Q-value for action taken
                q_action = keras.ops.sum(keras.ops.multiply(q_values, masks), axis=1)
                # Calculate loss between new Q-value and old Q-value
                loss = loss_function(updated_q_values, q_action)

            # Backpropagation
            grads = tape.gradient(loss, model.trainable_variables)
            optimizer.apply_gradients(zip(grads, model.trainable_variables))
            first_loss = float(loss) if first_loss is None else first_loss
            last_loss = float(loss)

        if frame_count % update_target_network == 0:
            # update the the target network with new weights
            model_target.set_weights(model.get_weights())
            # Log details
            template = "running reward: {:.2f} at episode {}, frame count {}"
            print(template.format(running_reward, episode_count, frame_count))

        # Limit the state and reward history
        if len(rewards_history) > max_memory_length:
            del rewards_history[:1]
            del state_history[:1]
            del state_next_history[:1]
            del action_history[:1]
            del done_history[:1]

        if done:
            break

    # Update running reward to check condition for solving
    episode_reward_history.append(episode_reward)
    if len(episode_reward_history) > 100:
        del episode_reward_history[:1]
    running_reward = np.mean(episode_reward_history[-30:])

    episode_count += 1

    if running_reward > 2.5:  # Condition to consider the task solved (random play: ~0.2)
        print("Solved at episode {}!".format(episode_count))
        break
    assert episode_count < max_episodes, f"not solved: running reward {running_reward:.2f}"

# the greedy policy walks from every cell to the goal without touching a wall
weights = [np.array(w) for w in model.get_weights()]
model_target.set_weights(weights)
for a, b in zip(model_target.get_weights(), weights):
    np.testing.assert_array_equal(a, b)
reached = 0
for start in [(r, c) for r in range(SIZE) for c in range(SIZE) if (r, c) != GOAL]:
    env.pos = start
    frame = env._frame()
    for _ in range(8):
        action = int(keras.ops.argmax(model(frame[None], training=False)[0]).numpy())
        frame, reward, done, _, _ = env.step(action)
        if done or reward:
            break
    reached += reward == 1.0
print("greedy policy reaches the goal from", reached, "of", SIZE * SIZE - 1, "cells")
assert reached >= 12, reached
